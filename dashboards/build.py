"""Build every alignmon dashboard to JSON: deterministic bytes, one file per dashboard named by its uid."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import applications, collectors, investment, pipeline_health, portfolio
from metrics.thresholds import Thresholds

Dashboard = dict[str, Any]


class Definition(NamedTuple):
    """One dashboard: its uid (and file name) and the function that builds it (thresholds, runbooks URL)."""

    uid: str
    make: Callable[[Thresholds, str], sdk.Dashboard]

    @property
    def filename(self) -> str:
        return f"{self.uid}.json"


DEFINITIONS: tuple[Definition, ...] = (
    Definition(portfolio.UID, portfolio.build),
    Definition(investment.UID, investment.build),
    Definition(applications.UID, applications.build),
    Definition(pipeline_health.UID, pipeline_health.build),
    Definition(collectors.UID, collectors.build),
)


def to_dict(board: sdk.Dashboard) -> Dashboard:
    """The dashboard as plain JSON data (what Grafana stores and the API takes)."""
    data: Dashboard = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return data


def build_all(thresholds: Thresholds, runbooks: str) -> dict[str, Dashboard]:
    """file name -> dashboard, in a fixed order; `runbooks` is where docs/runbooks.md is published."""
    return {d.filename: to_dict(d.make(thresholds, runbooks)) for d in DEFINITIONS}


def render(dashboard: Dashboard) -> bytes:
    """Stable bytes: sorted keys, two-space indent, trailing newline; no timestamps or ids."""
    return (json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write(out: Path, thresholds: Thresholds, runbooks: str) -> list[Path]:
    """Write every dashboard into `out` (created if missing); a file already up to date is left untouched."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, dashboard in build_all(thresholds, runbooks).items():
        path = out / name
        data = render(dashboard)
        if not path.exists() or path.read_bytes() != data:
            # Write then rename, so Grafana's file provisioner never reads a half-written file.
            tmp = path.with_suffix(".json.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        written.append(path)
    return written


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every non-row panel of a dashboard, including panels nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel
