"""The tests' one poll loop: wait until a check returns something truthy, or fail saying what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None],
    timeout: float = 60.0,
    what: str | Callable[[], str] = "condition",
    interval: float = 0.25,
    ignore: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> T:
    """Call `check` every `interval` seconds until it returns a truthy value, and return that value.

    `check` is always called at least once. An exception of a type in `ignore` counts as "not yet"; any other
    propagates at once. After `timeout` seconds this fails with an AssertionError naming `what` (a string, or a
    function called then, to describe state gathered while waiting) and the last value or exception seen.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = check()
        except ignore as exc:
            error = exc
        else:
            if value:
                return value
            last, error = value, None
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    seen = f"last error: {error!r}" if error is not None else f"last value: {last!r}"
    description = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout:g}s waiting for {description}; {seen[:500]}") from error
