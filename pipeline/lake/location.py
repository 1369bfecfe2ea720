"""Where the lake lives (`ALIGNMON_LAKE_URL`: a folder, or s3://bucket/prefix) and atomic writes to it.

pyarrow's filesystems do the I/O on both, so the writer, the tests and any reader share one implementation. An
object written to S3 appears whole or not at all; a local file is written beside its name and renamed over it.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from base.errors import AlignmonError

# S3-compatible servers (s3proxy, MinIO, SeaweedFS) refuse the trailing checksums newer AWS SDKs send by default.
os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")
os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "WHEN_REQUIRED")


@dataclass(frozen=True)
class Lake:
    """A filesystem and the root path of the lake in it."""

    filesystem: pafs.FileSystem
    root: str

    @classmethod
    def open(
        cls,
        url: str,
        *,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
    ) -> Lake:
        """The lake at `url`: a local folder (created), or s3://bucket/prefix (the bucket must exist)."""
        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            root = os.path.abspath(parsed.path if parsed.scheme else url)
            os.makedirs(root, exist_ok=True)
            return cls(pafs.LocalFileSystem(), root)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise AlignmonError(f"ALIGNMON_LAKE_URL={url!r}: use a folder or s3://bucket/prefix")
        # Bounded waits: an unreachable store fails the cycle in seconds and the days wait for the next one.
        options: dict[str, object] = {
            "region": region,
            "connect_timeout": 5,
            "request_timeout": 60,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
        }
        if endpoint:
            options |= {"endpoint_override": endpoint, "scheme": urlparse(endpoint).scheme or "https"}
        if access_key and secret_key:
            options |= {"access_key": access_key, "secret_key": secret_key}
        return cls(pafs.S3FileSystem(**options), f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/"))

    def path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def put(self, path: str, data: bytes) -> None:
        """Write `data` at `path` (relative to the root) atomically: readers see the old object or the new one."""
        target = self.path(path)
        self.filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        if isinstance(self.filesystem, pafs.LocalFileSystem):
            folder, name = target.rsplit("/", 1)
            # A dot-file: dataset readers skip it, even one a crash left behind.
            tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
            with self.filesystem.open_output_stream(tmp) as out:
                out.write(data)
            self.filesystem.move(tmp, target)
            return
        with self.filesystem.open_output_stream(target) as out:  # one PUT: whole or absent
            out.write(data)

    def get(self, path: str) -> bytes | None:
        """The bytes at `path`, or None when there is nothing there."""
        try:
            with self.filesystem.open_input_stream(self.path(path)) as stream:
                return bytes(stream.read())
        except (FileNotFoundError, OSError) as exc:
            if self.filesystem.get_file_info(self.path(path)).type == pafs.FileType.NotFound:
                return None
            raise exc

    def put_parquet(self, path: str, table: pa.Table) -> None:
        """`table` as one zstd-compressed Parquet object (written in memory, then put whole)."""
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        self.put(path, buffer.getvalue())

    def files(self, prefix: str) -> list[str]:
        """Paths (relative to the root) of the objects under `prefix`, sorted."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        found = self.filesystem.get_file_info(selector)
        start = len(self.root) + 1
        return sorted(i.path[start:] for i in found if i.type == pafs.FileType.File and not i.base_name.startswith("."))

    def delete(self, prefix: str) -> None:
        """Remove everything under `prefix` (retention of a day's partition)."""
        info = self.filesystem.get_file_info(self.path(prefix))
        if info.type == pafs.FileType.Directory:
            self.filesystem.delete_dir(self.path(prefix))
        elif info.type == pafs.FileType.File:
            self.filesystem.delete_file(self.path(prefix))
