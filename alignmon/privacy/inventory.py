"""Every collector alignmon ships, what each reads on an endpoint, and whether it can send window titles.

The server side cannot see which collectors run on the endpoints: the pack lists them all and marks only those the
operator declares (`alignmon privacy pack --collector NAME`).
"""

from __future__ import annotations

from typing import NamedTuple

from collectors.agent.commands import SOURCES
from collectors.importers.commands import HELP

# The agent's sources (collectors/agent/sources.py); a test checks these keys are exactly the agent's SOURCES.
AGENT_READS: dict[str, str] = {
    "x11": "samples the foreground window's executable and the X idle time every few seconds on the person's "
    "own computer; idle time is never counted as use",
    "activitywatch": "reads focus time from the local ActivityWatch server (window events while not away from "
    "the keyboard)",
    "whatpulse": "reads only the local WhatPulse database's active time per application and hour (not its "
    "keystroke or click counts)",
}
# Which collectors can send a title at all (the gateway then keeps it only with ALIGNMON_TITLES_ENABLED).
TITLES = {
    "agent:x11": "only when the agent is started with --titles",
    "agent:activitywatch": "only when the agent is started with --titles",
    "agent:whatpulse": "never (its database has none)",
    "import:activitywatch": "yes, when the export holds them",
    "import:whatpulse": "never (its database has none)",
    "import:osquery": "never (launch evidence only)",
}


class Collector(NamedTuple):
    """One way usage events enter alignmon."""

    name: str  # as `--collector` takes it: agent:<source> or import:<kind>
    command: str
    reads: str
    titles: str
    declared: bool


def collectors(declared: frozenset[str] = frozenset()) -> list[Collector]:
    """The shipped collectors in CLI order, each marked when the operator declared it in use."""
    found = [
        Collector(f"agent:{s}", f"alignmon agent --source {s}", AGENT_READS[s], TITLES[f"agent:{s}"], False)
        for s in SOURCES
    ]
    found += [
        Collector(f"import:{kind}", f"alignmon import {kind}", text, TITLES[f"import:{kind}"], False)
        for kind, text in HELP.items()
    ]
    return [c._replace(declared=c.name in declared) for c in found]


def names() -> list[str]:
    """Every name `--collector` accepts."""
    return [*(f"agent:{s}" for s in SOURCES), *(f"import:{k}" for k in HELP)]
