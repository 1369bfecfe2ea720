"""An S3-compatible object store for the lake: s3proxy (Apache-2.0, from Maven Central) as a plain process."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from alignmon.stack.process import Service, ServiceError, port_open

log = logging.getLogger(__name__)

S3PROXY = "org.gaul:s3proxy:3.0.0:jar:jar-with-dependencies"  # 3.x: jclouds' filesystem-nio2 lists prefixes right


def fetch_jar() -> Path:
    """The s3proxy jar, fetched from Maven Central once into the user's cache."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alignmon" / "s3proxy"
    jar = base / ("s3proxy-" + S3PROXY.split(":")[2] + "-jar-with-dependencies.jar")
    if jar.exists():
        return jar
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is needed to fetch s3proxy: run `make setup` or apt-get install maven")
    log.info("fetching s3proxy from Maven Central into %s (once)", base)
    result = subprocess.run(
        ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={S3PROXY}", f"-DoutputDirectory={base}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not jar.exists():
        raise ServiceError(f"mvn could not fetch s3proxy:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return jar


def s3_service(state: Path, port: int, access_key: str, secret_key: str, tag: str) -> Service:
    """s3proxy on 127.0.0.1:port, keeping its objects as files under state/s3/data (AWS signature v2 or v4)."""
    sdir = state / "s3"
    (sdir / "data").mkdir(parents=True, exist_ok=True)
    conf = sdir / "s3proxy.conf"
    conf.write_text(
        f"s3proxy.endpoint=http://127.0.0.1:{port}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={access_key}\n"
        f"s3proxy.credential={secret_key}\n"
        "jclouds.provider=filesystem-nio2\n"
        f"jclouds.filesystem.basedir={sdir / 'data'}\n"
    )
    conf.chmod(0o600)  # it holds the secret key
    return Service(
        name="s3",
        argv=["java", "-Xmx256m", f"-Dalignmon.tag={tag}", "-jar", str(fetch_jar()), "--properties", str(conf)],
        run_dir=state / "run",
        ports=[port],
        ready=lambda: port_open(port),
        tag=tag,
    )


def ensure_bucket(endpoint: str, bucket: str, access_key: str, secret_key: str) -> None:
    """Create `bucket` on the server at `endpoint` unless it exists (safe to repeat)."""
    import pyarrow.fs as pafs  # noqa: PLC0415  (only when an object store is used)

    import pipeline.lake.location  # noqa: F401, PLC0415  (its S3 client settings for s3-compatible servers)

    s3 = pafs.S3FileSystem(
        access_key=access_key, secret_key=secret_key, endpoint_override=endpoint, scheme="http",
        region="us-east-1", allow_bucket_creation=True,
    )  # fmt: skip
    s3.create_dir(bucket)
