"""Alertmanager from the Debian package, as a plain process on loopback (no HA gossip port)."""

from __future__ import annotations

from pathlib import Path

from alignmon.stack.process import Service
from alignmon.stack.prometheus import binary, http_ready


def alertmanager_service(state: Path, port: int, config: str, tag: str, external_url: str | None = None) -> Service:
    """Alertmanager on 127.0.0.1:port; `external_url` (default that address) is where the mails' links point."""
    adir = state / "alertmanager"
    adir.mkdir(parents=True, exist_ok=True)
    conf = adir / "alertmanager.yml"
    conf.write_text(config)
    return Service(
        name="alertmanager",
        argv=[
            binary("prometheus-alertmanager", "prometheus-alertmanager"),
            f"--config.file={conf}",
            f"--storage.path={adir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={external_url or f'http://127.0.0.1:{port}'}",
            "--cluster.listen-address=",
        ],
        run_dir=state / "run",
        ports=[port],
        ready=lambda: http_ready(f"http://127.0.0.1:{port}/-/ready"),
        tag=tag,
    )
