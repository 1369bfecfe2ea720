"""What a process is doing, read from /proc: its children, command line, liveness and the sockets it holds."""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"  # TCP states as /proc/net/tcp writes them
ESTABLISHED = "01"


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b"resource_tracker"  # gone: not a worker


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def holds_socket(pid: int, port: int, state: str) -> bool:
    """Whether the process holds a TCP socket on its `port` in `state` (from /proc/net/tcp and its descriptors)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == state:
            inodes.add(f"socket:[{fields[9]}]")
    try:
        return any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def listening(pid: int, port: int) -> bool:
    """Whether the process holds a socket listening on `port`."""
    return holds_socket(pid, port, LISTEN)


def connected(pid: int, port: int) -> bool:
    """Whether the process holds an established TCP connection on its `port`."""
    return holds_socket(pid, port, ESTABLISHED)
