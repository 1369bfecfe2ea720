"""Prometheus from the Debian package, as a plain process on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import yaml

from alignmon.stack.process import Service, ServiceError


def http_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServiceError(f"{name} not found: run `make setup` (it installs the Debian package {package})")
    return path


def prometheus_config(
    scrape_targets: Mapping[str, Sequence[str]],
    rule_files: Sequence[Path],
    alertmanager: str,
    interval_s: float,
) -> str:
    """prometheus.yml: one job per target group, the shipped rules, and the local Alertmanager."""
    interval = f"{interval_s:g}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(p) for p in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]} for job, targets in scrape_targets.items()
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def prometheus_service(state: Path, port: int, config: str, tag: str, external_url: str | None = None) -> Service:
    """Prometheus on 127.0.0.1:port; `external_url` (default that address) is what alerts link back to."""
    pdir = state / "prometheus"
    pdir.mkdir(parents=True, exist_ok=True)
    conf = pdir / "prometheus.yml"
    conf.write_text(config)
    return Service(
        name="prometheus",
        argv=[
            binary("prometheus", "prometheus"),
            f"--config.file={conf}",
            f"--storage.tsdb.path={pdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={external_url or f'http://127.0.0.1:{port}'}",
            "--web.enable-lifecycle",  # lets tests and the demo reload rules without a restart
            # As long as the pipeline keeps its daily rollups (ALIGNMON_DAILY_RETENTION_DAYS): `alignmon metrics
            # backfill` writes that history, which a shorter retention would delete at once.
            "--storage.tsdb.retention.time=400d",
        ],
        run_dir=state / "run",
        ports=[port],
        ready=lambda: http_ready(f"http://127.0.0.1:{port}/-/ready"),
        tag=tag,
    )
