"""`alignmon agent`: the endpoint agent (X11 sampler, ActivityWatch and WhatPulse bridges) -> gateway."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from base.arguments import add_gateway_tls

if TYPE_CHECKING:
    from collectors.agent.agent import Agent
    from collectors.agent.sources import FocusSource
    from collectors.agent.spans import SpanRules

SOURCES = ("x11", "activitywatch", "whatpulse")


def default_spool(platform: str = sys.platform, environ: Mapping[str, str] = os.environ) -> Path:
    """Windows: %LOCALAPPDATA%\\alignmon\\agent-spool; elsewhere $XDG_STATE_HOME/alignmon/agent-spool, else
    ~/.local/state/alignmon/agent-spool. Per user: each user's events stay in their own profile."""
    if platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / "alignmon" / "agent-spool"
    state = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "alignmon" / "agent-spool"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "agent",
        help="run the endpoint agent: sample the foreground app and idle time, upload usage events",
        description="Collect usage events on this computer and upload them to the gateway. Sources: x11 (samples "
        "the foreground window's executable and the X idle time every --interval seconds; idle time is never "
        "focus), activitywatch (reads the local aw-server), whatpulse (reads the WhatPulse database). Events "
        "go through a disk spool (--spool) first, so nothing is lost while the gateway is away. The device "
        "token comes from $ALIGNMON_AGENT_TOKEN or --token-file (avoid --token: it shows in the process list). "
        "Window titles are never read unless --titles is given.",
    )
    parser.add_argument("--gateway", required=True, metavar="URL", help="gateway base URL, e.g. https://gw:18700")
    parser.add_argument(
        "--token", help="device token (prefer $ALIGNMON_AGENT_TOKEN or --token-file: argv is visible to other users)"
    )
    parser.add_argument("--token-file", type=Path, metavar="FILE", help="read the device token from this file")
    add_gateway_tls(parser)
    parser.add_argument(
        "--source",
        action="append",
        choices=SOURCES,
        dest="sources",
        help="a source to run; repeat for several (default: x11)",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="x11 sampling interval in seconds (default 5)")
    parser.add_argument(
        "--idle-threshold",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="idle this long ends a focus span where the idleness began (default 180)",
    )
    parser.add_argument(
        "--max-span", type=float, default=900.0, metavar="SECONDS", help="cut spans at this length (default 900)"
    )
    parser.add_argument("--spool", type=Path, metavar="DIR", help=f"disk spool directory (default {default_spool()})")
    parser.add_argument(
        "--max-spool-events",
        type=int,
        default=100_000,
        metavar="N",
        help="when this many events wait, new ones are refused with an error log (default 100000)",
    )
    parser.add_argument("--device", help="device id the token was issued to (default: the host name)")
    parser.add_argument("--user", help="user name to report (default: the OS login name; the gateway pseudonymises)")
    parser.add_argument("--display", help="X display for the x11 source (default: $DISPLAY)")
    parser.add_argument("--titles", action="store_true", help="also read and send window titles (off: privacy)")
    parser.add_argument(
        "--aw-url", default="http://127.0.0.1:5600", metavar="URL", help="aw-server URL (activitywatch source)"
    )
    parser.add_argument("--whatpulse-db", type=Path, metavar="FILE", help="WhatPulse database (whatpulse source)")
    parser.add_argument(
        "--upload-interval", type=float, default=30.0, metavar="SECONDS", help="seconds between uploads (default 30)"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="collect for one interval, upload everything, exit (1 if events remain in the spool)",
    )
    parser.set_defaults(handler=_run)


def local_timezone() -> tzinfo:
    """This computer's zone: $TZ, else the /etc/localtime link, else the current UTC offset."""
    from datetime import datetime  # noqa: PLC0415
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        link = os.readlink("/etc/localtime")
        candidates.append(link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "")
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    fallback = datetime.now().astimezone().tzinfo
    assert fallback is not None
    return fallback


def build_agent(args: argparse.Namespace, token: str) -> Agent:
    """The agent the arguments describe (sources connected, spool open)."""
    import getpass  # noqa: PLC0415
    import socket  # noqa: PLC0415

    from base.errors import AlignmonError  # noqa: PLC0415
    from collectors.agent.agent import Agent  # noqa: PLC0415
    from collectors.agent.sources import ActivityWatchSource, Source, WhatPulseSource  # noqa: PLC0415
    from collectors.agent.spans import SpanRules  # noqa: PLC0415
    from collectors.agent.state import StateFile  # noqa: PLC0415
    from collectors.event import check_device_id  # noqa: PLC0415
    from collectors.spool import Spool  # noqa: PLC0415
    from collectors.tls import ClientTLS  # noqa: PLC0415
    from collectors.uploader import Uploader  # noqa: PLC0415

    tls = ClientTLS.from_arguments(args)
    tls.check(args.gateway)  # a CA or certificate file that cannot work: say so before any source starts
    device = check_device_id(args.device or socket.gethostname())
    user = (args.user or getpass.getuser()).strip()
    if not user:
        raise AlignmonError("empty user name: pass --user")
    try:
        rules = SpanRules(args.interval, args.idle_threshold, args.max_span, args.titles)
    except ValueError as exc:
        raise AlignmonError(f"--interval, --idle-threshold, --max-span: {exc}") from None
    names = list(dict.fromkeys(args.sources or ["x11"]))
    if "whatpulse" in names and args.whatpulse_db is None:
        raise AlignmonError("the whatpulse source needs --whatpulse-db FILE (the WhatPulse client's whatpulse.db)")
    spool_dir = Path(args.spool) if args.spool is not None else default_spool()
    state = StateFile(spool_dir / "sources.json")
    sources: list[Source] = []
    for name in names:
        if name == "x11":
            sources.append(_x11_source(args, rules, device, user))
        elif name == "activitywatch":
            from collectors.importers.activitywatch import ActivityWatchClient  # noqa: PLC0415

            sources.append(
                ActivityWatchSource(
                    ActivityWatchClient(args.aw_url),
                    state,
                    device_id=device,
                    user=user,
                    titles=args.titles,
                    tz=local_timezone(),
                )
            )
        else:
            sources.append(WhatPulseSource(args.whatpulse_db, state, device_id=device, user=user, tz=local_timezone()))
    spool = Spool(spool_dir, segment_bytes=4 * 1024 * 1024)
    return Agent(
        sources,
        spool,
        Uploader(spool, args.gateway, token, tls=tls, reread_token=_token_file_reader(args)),
        max_spool_events=args.max_spool_events,
        upload_interval_s=args.upload_interval,
    )


def _token_file_reader(args: argparse.Namespace) -> Callable[[], str] | None:
    """The token file read again, for the uploader after a 401: a rotated token takes effect without a restart."""
    if args.token is not None or args.token_file is None:
        return None
    from collectors.uploader import read_token  # noqa: PLC0415

    return lambda: read_token(args)


def _x11_source(args: argparse.Namespace, rules: SpanRules, device: str, user: str) -> FocusSource:
    from collectors.agent.sampler import Sampler  # noqa: PLC0415
    from collectors.agent.sources import FocusSource  # noqa: PLC0415
    from collectors.agent.x11 import X11Desktop  # noqa: PLC0415

    display = args.display or os.environ.get("DISPLAY")
    source = FocusSource(
        lambda: Sampler(X11Desktop(display, titles=args.titles), titles=args.titles),
        rules,
        device_id=device,
        user=user,
    )
    source.start()  # fail now, with the reason, when there is no usable display
    return source


def _run(args: argparse.Namespace) -> int:
    import logging  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from collectors.uploader import read_token  # noqa: PLC0415

    token = read_token(args)
    if not getattr(args, "verbose", False):
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per upload is noise on an endpoint
    agent = build_agent(args, token)
    log = logging.getLogger("collectors.agent")
    names = ", ".join(source.name for source in agent.sources)
    log.info("alignmon agent: sources %s -> %s (spool %s)", names, args.gateway, agent.spool.directory)
    if args.once:
        return agent.once(args.interval)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.stop())
    return agent.run()
