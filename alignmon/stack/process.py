"""A background service process: started detached, tracked by a pid file, stopped cleanly.

The pid file and the command line tag make `up` idempotent and let a later run clean up after a
killed one: a pid file whose process is gone is stale, and a port held by a process that carries
our state directory in its command line is ours to stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from base.errors import AlignmonError

log = logging.getLogger(__name__)


class ServiceError(AlignmonError):
    """A local service could not be started or stopped."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes (it only waits for its parent to reap it).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def listener_pids(port: int) -> set[int]:
    """Pids of the processes listening on a TCP port (read from /proc, so no extra tools are needed)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    inodes.add(inode)
    pids: set[int] = set()
    if not inodes:
        return pids
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        pids.add(int(proc.name))
                        break
    return pids


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before in this process (the kernel may offer one twice in a row)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def terminate(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after the timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(0.1)
    raise ServiceError(f"process {pid} did not stop")


@dataclass
class Service:
    """One local service: how to start it, where it logs, and how to tell it is ready."""

    name: str
    argv: Sequence[str]
    run_dir: Path
    ports: Sequence[int]
    ready: Callable[[], bool]
    tag: str  # a string in the command line that marks the process as ours (the state directory)
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 60.0
    # Writes its configuration files; run by `start` just before the process starts, never when it runs already.
    prepare: Callable[[], None] | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and self.tag in cmdline(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self) -> bool:
        """Start unless already running and ready; returns True if it was started now."""
        if self.pid() is not None and self.ready():
            return False
        self.stop()
        self._free_ports()
        if self.prepare is not None:
            self.prepare()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(
                list(self.argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: Ctrl-C of the caller does not hit it mid-write
                env={**os.environ, **self.env},
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise ServiceError(
                    f"{self.name} exited with code {proc.returncode}; see {self.log_file}:\n{self.tail()}"
                )
            if self.ready():
                log.info("%s ready (pid %d)", self.name, proc.pid)
                return True
            time.sleep(0.25)
        self.stop()
        raise ServiceError(
            f"{self.name} not ready after {self.start_timeout:.0f}s; see {self.log_file}:\n{self.tail()}"
        )

    def stop(self) -> bool:
        """Stop our process if it runs; returns True if one was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        log.info("%s stopped", self.name)
        return True

    def _free_ports(self) -> None:
        """Reclaim ports held by a leftover process of ours; refuse to touch anyone else's."""
        for port in self.ports:
            for pid in listener_pids(port):
                owner = cmdline(pid)
                if self.tag in owner:
                    log.warning("stopping leftover %s process %d on port %d", self.name, pid, port)
                    terminate(pid)
                else:
                    raise ServiceError(
                        f"port {port} needed by {self.name} is in use by pid {pid} ({owner[:120]}); "
                        "stop that process or choose another port (see `alignmon stack --help`)"
                    )
            if port_open(port):
                raise ServiceError(f"port {port} needed by {self.name} is in use by a process this user cannot see")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
