"""osquery result logs for the importer tests, written the way osqueryd writes them."""

from __future__ import annotations

import json
import time
from pathlib import Path


def osquery_log(path: Path, host: str, n: int, app: str = "App", bundle: str = "app") -> Path:
    """A result log of `n` app launches on `host`, named `app`0.app ... (bundle ids com.example.`bundle`0 ...)."""
    now = int(time.time())
    lines = [
        json.dumps(
            {
                "name": "pack_apps",
                "hostIdentifier": host,
                "calendarTime": "Fri Nov 27 10:00:00 2026 UTC",
                "unixTime": now,
                "epoch": 0,
                "counter": i,
                "action": "added",
                "columns": {
                    "name": f"{app}{i}.app",
                    "bundle_identifier": f"com.example.{bundle}{i}",
                    "path": f"/Applications/{app}{i}.app",
                    "last_opened_time": str(now - 3600 - i),
                },
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
