"""A tiny JSON state file for the sources' high-water marks, replaced atomically on every write."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class StateFile:
    """String values by key, persisted to one JSON file (write temp, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._values: dict[str, str] = self._load()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Losing the marks only means a re-send, which deterministic ids make harmless.
            log.warning("%s: unreadable agent state (%s); starting from scratch", self.path, exc)
            return {}
        if not isinstance(data, dict):
            log.warning("%s: agent state is not a JSON object; starting from scratch", self.path)
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        self._values[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w") as stream:
            json.dump(self._values, stream, indent=2, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, self.path)
