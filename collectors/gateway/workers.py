"""Several gateway processes on one port: a supervisor and its workers.

Python runs one request's validation at a time per process (the GIL), so a gateway uses more cores only with
more processes. Each worker binds the port itself with SO_REUSEPORT (the kernel spreads new connections over
them evenly, which one shared accept queue does not do for long-lived keep-alive connections) and runs a whole
gateway: its own Kafka producer, token store connection, rate limiter and spool.

The spool is per worker, not shared. Its rule (an event is answered 202 only once Kafka acknowledged it or it is
fsynced in the spool, and a spool is replayed in order) needs one writer and one replayer per spool, which the
spool's lock file enforces; a shared one would need a cross-process lock on every request's path. So worker `k`
owns `spool_slot(ALIGNMON_SPOOL_DIR, k)`: worker 0 the folder itself (one worker keeps the layout a single
gateway always had), worker k > 0 its `worker-k` subfolder. A restarted worker takes its slot back; a gateway
started with fewer workers than slots holding events starts a worker for each of those slots as well, so no
spooled event waits for a configuration change. Order holds per worker: a device's requests that reach two
workers during an outage may reach Kafka in another order (as with two gateways; the pipeline keys on
device and event id, not on arrival order).

Per worker too: the rate limits (a device on one keep-alive connection meets one worker's limit) and `/healthz`
(the answering worker's Kafka and spool). `/metrics` is the sum over all workers (collectors.gateway.metrics).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from base.errors import AlignmonError
from base.settings import Settings

log = logging.getLogger(__name__)

SLOT_PREFIX = "worker-"
RESTART_PAUSE_S = 1.0  # between a worker's unexpected exit and its restart
EARLY_EXIT_S = 10.0  # a worker that exits sooner than this after its start failed to start
MAX_EARLY_EXITS = 5  # in a row: the gateway cannot start (a damaged spool, say), so it stops instead of looping
STOP_TIMEOUT_S = 40.0  # a worker's graceful stop (uvicorn's 10 s, then the service's) before it is killed


def worker_count(settings: Settings) -> int:
    """Workers to run: the setting, 0 meaning one per core."""
    return settings.gateway_workers or os.cpu_count() or 1


def spool_slot(spool_dir: Path, worker: int) -> Path:
    """The spool folder of worker `worker`."""
    return spool_dir if worker == 0 else spool_dir / f"{SLOT_PREFIX}{worker}"


def slots_in_use(spool_dir: Path) -> int:
    """One more than the highest worker slot (k > 0) whose spool holds events, else 0."""
    from collectors.spool import Spool, SpoolError  # noqa: PLC0415

    found = 0
    for path in spool_dir.glob(f"{SLOT_PREFIX}*"):
        number = path.name.removeprefix(SLOT_PREFIX)
        if not (path.is_dir() and number.isdigit()):
            continue
        try:
            with Spool(path) as spool:
                holds = spool.depth > 0
        except SpoolError:
            holds = True  # in use (a gateway still stopping) or damaged: its worker must look at it
        if holds:
            found = max(found, int(number) + 1)
    return found


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port that other workers may bind as well (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_port_free(host: str, port: int) -> None:
    """Raise AlignmonError, saying what to do, when the gateway cannot listen on host:port: anything listens there
    (SO_REUSEPORT listeners included: a second gateway must not quietly share the port with a running one), or the
    address is not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OverflowError:
        raise AlignmonError(f"the gateway cannot listen on port {port}: choose one from 1 to 65535") from None
    except OSError as exc:
        advice = (
            "another program (or gateway) listens there: stop it, or choose another port (ALIGNMON_GATEWAY_PORT, "
            "--port)"
            if exc.errno == errno.EADDRINUSE
            else "choose an address of this machine (ALIGNMON_GATEWAY_HOST, --host; 0.0.0.0: all of them)"
        )
        raise AlignmonError(f"the gateway cannot listen on {host}:{port} ({exc.strerror}): {advice}") from None


def _die_with_parent() -> None:
    """Have the kernel send SIGTERM to this worker when the supervisor dies (even by kill -9), so no orphan keeps
    the port and the spool's lock."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        log.debug("no prctl here: a worker outlives a killed supervisor until it is stopped", exc_info=True)


def run_worker(host: str, port: int, worker: int, parent: int, verbose: bool = False) -> None:
    """One worker: a whole gateway on the shared port, with its own spool slot (a spawned process's target).

    Exits 0 after a clean stop (SIGTERM from the supervisor, or SIGINT from a terminal's Ctrl-C), else 1.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):  # until the server's own handlers take over: nothing served yet
        signal.signal(sig, _stop_before_serving)
    _die_with_parent()
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        return
    from base import logs  # noqa: PLC0415
    from collectors.gateway.app import create_app  # noqa: PLC0415
    from collectors.gateway.foreground import ForegroundServer  # noqa: PLC0415
    from collectors.gateway.server import Limits, uvicorn_config  # noqa: PLC0415
    from collectors.gateway.service import GatewayService  # noqa: PLC0415
    from collectors.gateway.tls import ServerTLS  # noqa: PLC0415

    logs.configure(verbose)
    settings = Settings()
    service = GatewayService.from_settings(settings, spool_dir=spool_slot(settings.spool_dir, worker))
    sock = listening_socket(host, port)
    tls = ServerTLS.from_settings(settings)
    config = uvicorn_config(create_app(service), host, port, Limits.from_settings(settings), tls)
    # The TLS handshake runs in the worker that accepted the connection.
    sys.exit(ForegroundServer(config, f"gateway worker {worker}").serve_until_signal(sockets=[sock]))


def _stop_before_serving(signum: int, frame: object) -> None:
    raise SystemExit(0)  # a worker stopped while it starts has accepted nothing


class Supervisor:
    """Start the workers, restart one that exits unexpectedly, stop them all on SIGTERM or SIGINT."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int, verbose: bool = False) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.workers = max(workers, slots_in_use(settings.spool_dir))
        self.verbose = verbose
        self._context = mp.get_context("spawn")  # a fresh interpreter: no threads or sockets of this one
        self._procs: dict[int, BaseProcess] = {}
        self._started: dict[int, float] = {}
        self._early_exits = 0
        self._stopping = False
        self._signal: signal.Signals | None = None

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; returns the exit status."""
        # The workers write their metric values here, and each serves the sum (collectors.gateway.metrics).
        metrics_dir = tempfile.mkdtemp(prefix="alignmon-gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            check_port_free(self.host, self.port)
            for worker in range(self.workers):
                self._start(worker)
            while not self._stopping:
                sentinels = {proc.sentinel: worker for worker, proc in self._procs.items()}
                for ready in wait(list(sentinels), timeout=1.0):
                    worker = sentinels[ready]  # type: ignore[index]
                    self._exited(worker)
            if self._early_exits >= MAX_EARLY_EXITS:
                log.error("gateway workers exit as soon as they start; stopping (see their errors above)")
                return 1
            log.info(
                "gateway stopping on %s: its %d workers answer the requests in flight and flush their spools",
                self._signal.name if self._signal else "a signal",
                len(self._procs),
            )
        finally:
            clean = self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(metrics_dir, ignore_errors=True)
        if not clean:
            log.error("gateway stopped, but not every worker stopped cleanly (see above)")
            return 1
        log.info("gateway stopped cleanly: every event answered 202 is in Kafka or in a spool")
        return 0

    def _start(self, worker: int) -> None:
        proc = self._context.Process(
            target=run_worker,
            args=(self.host, self.port, worker, os.getpid(), self.verbose),
            name=f"alignmon-gateway-{worker}",
        )
        proc.start()
        self._procs[worker] = proc
        self._started[worker] = time.monotonic()

    def _exited(self, worker: int) -> None:
        from prometheus_client import multiprocess  # noqa: PLC0415

        proc = self._procs[worker]
        proc.join()
        if proc.pid is not None:
            multiprocess.mark_process_dead(proc.pid)  # type: ignore[no-untyped-call]  # its gauges leave the sums
        if self._stopping:
            return
        if time.monotonic() - self._started[worker] < EARLY_EXIT_S:
            self._early_exits += 1
            if self._early_exits >= MAX_EARLY_EXITS:
                self._stopping = True
                return
        else:
            self._early_exits = 0
        log.error("gateway worker %d exited with %s; restarting it", worker, proc.exitcode)
        time.sleep(RESTART_PAUSE_S)
        if not self._stopping:  # a stop asked during the pause: no new worker to kill half-started
            self._start(worker)

    def _stop(self, signum: int, frame: object) -> None:
        self._signal = self._signal or signal.Signals(signum)
        self._stopping = True

    def _stop_all(self) -> bool:
        """Stop every worker (SIGTERM, then SIGKILL after STOP_TIMEOUT_S); True when each exited 0 (stopped clean)."""
        for proc in self._procs.values():
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        clean = True
        for proc in self._procs.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error("gateway worker %s did not stop in time; killing it", proc.name)
                proc.kill()
                proc.join()
            if proc.exitcode != 0:
                log.error("gateway worker %s ended with exit code %s", proc.name, proc.exitcode)
                clean = False
        return clean
