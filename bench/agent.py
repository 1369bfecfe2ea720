"""The endpoint agent's footprint: RSS (peak and steady) and CPU time per minute of the real `alignmon agent`.

Run: .venv/bin/python bench/agent.py [--minutes 3] [--interval 5] [--bootstrap HOST:PORT] [--tree DIR]
The bench starts what the agent's users have: an X display (Xvfb + openbox) with two applications whose focus
moves every --switch seconds under real pointer input, a real gateway (in this process, uvicorn in a thread) in
front of a real Kafka broker (started for the run unless --bootstrap is given). The agent runs as its own process
with its real command line (the `alignmon` console script, x11 source, default upload interval); its memory comes
from /proc/<pid>/status (VmRSS sampled every second, VmHWM at the end) and its CPU time from /proc/<pid>/stat.
Steady = after --warmup seconds (start-up imports and the first connection are not steady-state cost). The
events the agent uploaded are read back from the topic, so the numbers are of an agent that did its job.
--tree runs the agent from another source tree on PYTHONPATH (e.g. `git archive` of an older commit, for
before/after figures on the same machine); the gateway and broker stay this tree's.
Needs Xvfb, openbox, xdotool, xterm and xcalc (Debian: xvfb openbox xdotool xterm x11-apps).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from host import kafka, machine  # bench/host.py: these scripts run from bench/

TICK = os.sysconf("SC_CLK_TCK")
DEVICE = "bench-agent"
APPS = ("xterm", "xcalc")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MiB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    status = dict(line.split(":", 1) for line in lines if ":" in line)
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


class Desktop:
    """Xvfb + openbox on a display of its own, with one window of each of APPS."""

    def __init__(self, work: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = (work / "x.log").open("ab")
        read_fd, write_fd = os.pipe()
        # -displayfd: Xvfb picks a free display number and writes it once it accepts connections.
        self._spawn(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                    pass_fds=(write_fd,))  # fmt: skip
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline()
        if not number.strip():
            raise RuntimeError(f"Xvfb did not start (see {work / 'x.log'})")
        self.display = f":{int(number)}"
        self.env = {**os.environ, "DISPLAY": self.display}
        self._spawn(["openbox", "--sm-disable"])
        deadline = time.monotonic() + 20
        while not self._wm_ready():
            if time.monotonic() > deadline:
                raise RuntimeError("openbox did not start")
            time.sleep(0.05)
        self.windows: dict[str, str] = {}
        for n, app in enumerate(APPS):
            name = f"alignmon-bench-{n}"
            self._spawn([app, "-name", name])
            found = self.xdotool("search", "--sync", "--onlyvisible", "--classname", f"^{name}$")
            assert found, f"{app} opened no window"
            self.windows[app] = found.split()[0]

    def _wm_ready(self) -> bool:
        from Xlib import X, display  # noqa: PLC0415

        conn = display.Display(self.display)
        try:
            root = conn.screen().root
            return root.get_full_property(conn.intern_atom("_NET_SUPPORTING_WM_CHECK"), X.AnyPropertyType) is not None
        finally:
            conn.close()

    def _spawn(self, argv: list[str], **kwargs: Any) -> None:
        env = getattr(self, "env", os.environ)
        self.procs.append(subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, **kwargs))

    def xdotool(self, *args: str, check: bool = True) -> str | None:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            if check:
                raise RuntimeError(f"xdotool {' '.join(args)} failed: {done.stderr}")
            return None
        return done.stdout.strip() or None

    def focus(self, app: str) -> None:
        self.xdotool("windowactivate", "--sync", self.windows[app])

    def nudge(self) -> None:
        """Real (XTEST) pointer input: the user is active, so spans are focus, not idle."""
        self.xdotool("mousemove_relative", "--", "1", "1")

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


def topic_events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every event in the topic (records are packed, collectors.record)."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    from collectors.record import events_of  # noqa: PLC0415

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end[tp] for tp in parts) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                events += [e for r in batch for e in events_of(r.value)]
        return events
    finally:
        consumer.close()


def agent_command(gateway: str, args: argparse.Namespace, spool: Path) -> list[str]:
    """The agent as a user starts it: the console script, the default source (x11) and upload interval."""
    script = Path(sys.executable).absolute().with_name("alignmon")
    return [str(script), "agent", "--gateway", gateway, "--interval", f"{args.interval:g}",
            "--spool", str(spool), "--device", DEVICE]  # fmt: skip


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with kafka(args.bootstrap, work) as bootstrap:
        return measure(args, work, bootstrap)


def measure(args: argparse.Namespace, work: Path, bootstrap: str) -> dict[str, Any]:
    from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415
    from collectors.gateway.app import create_app  # noqa: PLC0415
    from collectors.gateway.server import BackgroundServer  # noqa: PLC0415
    from collectors.gateway.service import GatewayService  # noqa: PLC0415

    topic = f"bench.agent.{uuid.uuid4().hex[:10]}"
    ensure_topics(bootstrap, {topic: 1})
    settings = Settings(
        pseudonym_secret="bench-secret-not-for-production",
        token_db=work / "tokens.sqlite",
        spool_dir=work / "gateway-spool",
        kafka_bootstrap=bootstrap,
        topic=topic,
        dev_mode=False,
    )
    service = GatewayService.from_settings(settings)
    token = service.tokens.issue(DEVICE)
    server = BackgroundServer(create_app(service)).start()
    desktop = Desktop(work)
    agent_log = work / "agent.log"
    command = agent_command(server.url, args, work / "agent-spool")
    samples: list[tuple[float, float]] = []  # (seconds since start, VmRSS MiB)
    try:
        desktop.focus(APPS[0])
        began = time.monotonic()
        env = {**desktop.env, "ALIGNMON_AGENT_TOKEN": token}
        if args.tree is not None:
            env["PYTHONPATH"] = str(args.tree.absolute())
        with agent_log.open("wb") as log:
            agent = subprocess.Popen(command, env=env, stderr=log, cwd=work)
        try:
            end = began + args.minutes * 60
            next_switch = began + args.switch
            cpu_warm = None
            t_warm = 0.0
            shown = 0
            while (now := time.monotonic()) < end:
                if agent.poll() is not None:
                    raise RuntimeError(f"the agent exited with {agent.returncode}: {agent_log.read_text()}")
                if now >= next_switch:
                    shown += 1
                    desktop.focus(APPS[shown % len(APPS)])
                    next_switch += args.switch
                desktop.nudge()
                samples.append((now - began, memory_mib(agent.pid)["VmRSS"]))
                if cpu_warm is None and now - began >= args.warmup:
                    cpu_warm, t_warm = cpu_seconds(agent.pid), now
                time.sleep(1.0)
            cpu_end, t_end = cpu_seconds(agent.pid), time.monotonic()
            memory = memory_mib(agent.pid)
        finally:
            agent.terminate()
            agent.wait(timeout=120)
        if agent.returncode != 0:
            raise RuntimeError(f"the agent exited with {agent.returncode}: {agent_log.read_text()}")
    finally:
        desktop.close()
        server.stop()
    events = topic_events(bootstrap, topic)
    assert cpu_warm is not None, "--warmup must be shorter than the run"
    steady = [rss for t, rss in samples if t >= args.warmup]
    steady_s = t_end - t_warm
    cpu_steady = cpu_end - cpu_warm
    return {
        "agent_command": shlex.join(command),
        "agent_tree": str(args.tree) if args.tree is not None else "this checkout",
        "seconds": round(t_end - began, 1),
        "events_in_topic": len(events),
        "apps_in_topic": sorted({e["app"] for e in events}),
        "peak_rss_mib (VmHWM)": round(memory["VmHWM"], 1),
        "steady_rss_mib (median VmRSS after warm-up)": round(statistics.median(steady), 1),
        "steady_rss_max_mib": round(max(steady), 1),
        "rss_at_end_mib": round(memory["VmRSS"], 1),
        "cpu_s_until_warmup (start-up)": round(cpu_warm, 2),
        "steady_cpu_s_per_minute": round(cpu_steady / steady_s * 60, 3),
        "steady_cpu_percent_of_a_core": round(cpu_steady / steady_s * 100, 3),
        "total_cpu_s": round(cpu_end, 2),
        "broker": bootstrap if args.bootstrap else f"{bootstrap} (started for the run)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="how long the agent runs (default 3)")
    parser.add_argument("--interval", type=float, default=5.0, help="the agent's --interval (default 5, its default)")
    parser.add_argument("--switch", type=float, default=20.0, help="seconds between focus changes (default 20)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds not counted as steady (default 20)")
    parser.add_argument("--bootstrap", help="Kafka bootstrap (default: start a broker for the run)")
    parser.add_argument("--tree", type=Path, metavar="DIR", help="run the agent from this source tree (PYTHONPATH)")
    args = parser.parse_args()
    for program in ("Xvfb", "openbox", "xdotool", *APPS):
        if shutil.which(program) is None:
            print(f"{program} is not installed (Debian: xvfb openbox xdotool xterm x11-apps)", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="alignmon-bench-agent-"))
    try:
        result = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {machine()}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    return 0 if result["events_in_topic"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
