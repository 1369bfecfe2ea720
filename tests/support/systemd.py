"""systemd unit files as the tests read them."""

from __future__ import annotations

from pathlib import Path


def directives(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of each line of a unit file, in order (keys such as EnvironmentFile= repeat)."""
    found, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found
