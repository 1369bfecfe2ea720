"""Compose files as the tests read them, and a skip where `docker compose` cannot check them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml


def load_compose(path: Path) -> dict[str, Any]:
    """The compose file, parsed (no interpolation: what is written)."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def compose_services(path: Path) -> dict[str, dict[str, Any]]:
    """The compose file's services by name."""
    services: dict[str, dict[str, Any]] = load_compose(path)["services"]
    return services


def require_compose() -> None:
    """Skip the test unless the docker CLI and its compose plugin are installed."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=120, check=False)
    if version.returncode != 0:
        said = (version.stderr + version.stdout).strip().splitlines() or ["no output"]
        pytest.skip(
            f"the docker CLI is installed but its compose plugin is not (`docker compose version`: {said[0]}); "
            "deploy/install-compose-plugin.sh builds it"
        )
