"""The console script's logging: a library's reconnect storm becomes one line a kind a minute."""

from __future__ import annotations

import io
import logging

from base.logs import FORMAT, LibraryDigest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_logger(digest: LibraryDigest, name: str) -> tuple[logging.Logger, io.StringIO]:
    """A logger of its own (names not used by the libraries, so their real loggers are left alone)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(digest)
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def test_repeats_of_a_kind_are_held_back_and_counted_after_the_window() -> None:
    clock = Clock()
    kafka, out = make_logger(LibraryDigest(window=60, clock=clock), "kafka.test.connection")
    for port in range(100):
        kafka.error("%s: Connection lost: %s", f"<conn 127.0.0.1:{port}>", "ECONNREFUSED")
        clock.now += 0.1  # 10 s in all: within one window
    kafka.error("Metadata refresh: failed %s", "ECONNREFUSED")  # another kind shows at once
    clock.now += 60
    kafka.error("%s: Connection lost: %s", "<conn 127.0.0.1:7>", "ECONNREFUSED")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].endswith("kafka.test.connection: <conn 127.0.0.1:0>: Connection lost: ECONNREFUSED")
    assert lines[1].endswith("Metadata refresh: failed ECONNREFUSED")
    assert lines[2].endswith(
        "<conn 127.0.0.1:7>: Connection lost: ECONNREFUSED (99 more like this held back in the last 60 s)"
    )


def test_a_library_traceback_becomes_one_line_with_the_error() -> None:
    kafka, out = make_logger(LibraryDigest(clock=Clock()), "kafka.test.transport")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        kafka.exception("%s: Error receiving network data closing socket", "<transport>")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        " ERROR kafka.test.transport: <transport>: Error receiving network data closing socket:"
        " ConnectionResetError: [Errno 104] Connection reset by peer"
    )


def test_alignmons_own_records_pass_untouched() -> None:
    clock = Clock()
    own, out = make_logger(LibraryDigest(clock=clock), "pipeline.test")
    for _ in range(3):
        own.info("%d events stored", 5)
    try:
        raise ValueError("boom")
    except ValueError:
        own.exception("a batch failed")
    text = out.getvalue()
    assert text.count("5 events stored") == 3
    assert "Traceback" in text and "ValueError: boom" in text
    # a logger whose name only starts like a library's is not one
    kafkaesque, out2 = make_logger(LibraryDigest(clock=clock), "kafkaesque.test")
    kafkaesque.error("same")
    kafkaesque.error("same")
    assert out2.getvalue().count("same") == 2
