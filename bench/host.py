"""The machine a benchmark ran on, as every script prints it next to its results."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _proc(path: str, key: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), None)


def machine() -> str:
    """CPUs, CPU model, RAM, kernel and Python, e.g. `2 CPUs (nproc), AMD EPYC 7B13, 7.8 GiB RAM, Linux 6.1, ...`."""
    cpu = _proc("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"
    mem_kib = _proc("/proc/meminfo", "MemTotal")
    mem = f"{int(mem_kib.split()[0]) / 1024**2:.1f} GiB" if mem_kib else "? GiB"
    return (
        f"{os.cpu_count()} CPUs (nproc), {cpu}, {mem} RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


@contextmanager
def kafka(bootstrap: str | None, work: Path) -> Iterator[str]:
    """The broker at `bootstrap` (--bootstrap), or one started in `work` for the run and stopped after it."""
    if bootstrap:
        yield bootstrap
        return
    from alignmon.stack.process import free_port  # noqa: PLC0415
    from alignmon.stack.stack import Stack, StackConfig  # noqa: PLC0415

    stack = Stack(StackConfig(state_dir=work / "stack", kafka_port=free_port(), kafka_controller_port=free_port()))
    stack.kafka().start()
    try:
        yield stack.kafka_bootstrap
    finally:
        stack.kafka().stop()


def report(script: str, argv: list[str], result: object) -> None:
    """Print the machine, the exact command and the results (JSON), as every benchmark ends."""
    import json  # noqa: PLC0415

    print(f"machine: {machine()}")
    print(f"command: python bench/{script} {' '.join(argv)}".rstrip())
    print(json.dumps(result, indent=1))
