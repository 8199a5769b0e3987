"""`hxim serve --workers N`: a supervisor process and N worker processes sharing the listening ports.

Each worker is a whole node (`server.serve`) in a process of its own, started with
multiprocessing's `spawn` (a fresh interpreter: nothing of the supervisor's, no event loop, is
inherited) and given the supervisor's settings with its own name: `node_id` (or the host name)
and `-1` … `-N`. The workers of one machine are nodes of one cluster, which is why more than one
needs `redis_url` and a shared PostgreSQL database (config.py refuses it otherwise).

**The ports.** Every worker binds the HTTP port and the XMPP TCP port with SO_REUSEPORT and
listens; the kernel spreads new connections over the listening sockets (a hash of each
connection's addresses and ports), and a worker that dies leaves the group with its sockets, so
new connections go to the others. Before any worker starts, the supervisor binds each port
itself, without SO_REUSEPORT and as a single node would (ports.py), and keeps those sockets,
bound but never listening, until it ends:

- a port in use stops the start there, with the single node's one line and exit code 4, and no
  worker is started; a probe that bound and closed would say the same, but
- holding the sockets keeps the ports while workers come and go: a process that does not set
  SO_REUSEPORT cannot bind a port that a worker listens on, nor, without SO_REUSEADDR, one the
  supervisor holds; and another hxim (a single node, or another supervisor) started on the same
  ports fails as it would beside a single node, instead of joining the group;
- a port of 0 becomes the one number the kernel gave the supervisor, which every worker then
  binds (each worker asking for port 0 would get a port of its own).

A socket that is bound but not listening takes no connections, so the supervisor never accepts
one; with every worker gone, connections are refused.

**Between workers.** Each worker also serves HTTP on a private Unix socket of its own
(ports.Peers), in a directory the supervisor makes for the purpose (only its user may enter it)
and removes when it ends. A worker passes there what another worker must answer: a request for a
BOSH session the other holds (c2s/bosh_relay.py), and the other's metrics when a scrape of
/metrics reaches it (http/metrics.py).

**Starting.** Worker 1 starts first, and the others once it serves: a node applies pending
migrations and creates the default app on its first start, which N processes must not do at
once. A worker tells the supervisor that it serves over a pipe (`server.serve`'s `ready`). If
worker 1 ends before it serves (a database that cannot be reached, a certificate that cannot be
read), the supervisor ends with the worker's exit code; the worker has said why, in one line.

**A worker that ends** while the supervisor runs is logged in plain words (`was killed by
SIGKILL`, `exited with code 3 (the database cannot be used: …)`) and started again: at once if
it had served `worker_stable_seconds`, else after `worker_restart_delay_seconds`, doubled at
each such failure in a row. After `worker_failures_max` failures in a row the supervisor stops
every worker and exits with the worker's last exit code (70 when a signal ended it).

**Stopping.** SIGTERM or SIGINT to the supervisor is passed on to every worker as SIGTERM: a
node stops gracefully on either, and on a terminal Ctrl-C has reached the workers already (they
share the supervisor's process group), where a second SIGINT would make uvicorn cut open
requests short. Each worker says `hxim stopped after …`; a worker that has not ended within
`worker_stop_timeout_seconds` is killed. Then the supervisor says its own stop line and exits 0.
A worker whose supervisor dies (even by SIGKILL) stops itself, as on SIGTERM: it watches the
supervisor's end of a pipe that the kernel closes when the supervisor exits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from hxim import __version__
from hxim.cli import EXIT_BUG, EXIT_CODES, report
from hxim.config import Settings
from hxim.logs import configure as configure_logging
from hxim.logs import in_words
from hxim.ports import Peers, claim, claim_addresses, node_ports

__all__ = ["WorkersFailed", "restart_delay", "supervise", "worker_names"]

log = logging.getLogger("hxim")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class WorkersFailed(Exception):
    """The workers cannot be kept running; `code` is the exit code the supervisor ends with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def worker_names(settings: Settings) -> list[str]:
    """The `node_id` of each worker: the supervisor's (else the host name), then `-1` … `-N`."""
    base = settings.node_id or socket.gethostname().split(".")[0] or "hxim"
    return [f"{base[: 100 - len(str(n)) - 1]}-{n}" for n in range(1, settings.workers + 1)]


def restart_delay(settings: Settings, failures: int) -> float:
    """How long to wait before starting again a worker that has failed at once `failures` times
    in a row (none: it had served long enough, start it now)."""
    return settings.worker_restart_delay_seconds * 2 ** (failures - 1) if failures else 0.0


def ending(exitcode: int | None) -> str:
    """How a worker process ended, in words."""
    if exitcode is None:
        return "is still running"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    meaning = EXIT_CODES.get(exitcode)
    return f"exited with code {exitcode}" + (f" ({meaning})" if meaning and exitcode else "")


@dataclass
class Worker:
    """One of the N places the supervisor keeps a worker process in."""

    number: int  # 1 … N
    settings: Settings  # the worker's: its node_id, the ports the supervisor holds
    process: BaseProcess | None = None
    ready: Connection | None = None  # the worker sends on it once it serves
    serving_since: float | None = None
    failures: int = 0  # failed at once, in a row
    due: float | None = None  # when to start it again

    @property
    def name(self) -> str:
        return self.settings.node_id

    def describe(self) -> str:
        pid = self.process.pid if self.process is not None else None
        return f"worker {self.number} (pid {pid}, node {self.name})"


def supervise(settings: Settings, debug: bool = False) -> int:
    """Run `settings.workers` workers until SIGTERM or SIGINT; the exit code (see the module
    docstring). Raises `CannotListen` before any worker starts when a port cannot be had, and
    `WorkersFailed` when a worker cannot be kept running."""
    return _Supervisor(settings, debug).run()


class _Supervisor:
    def __init__(self, settings: Settings, debug: bool) -> None:
        self.settings = settings
        self.debug = debug
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Worker] = []
        self.booted = False  # worker 1 has served, the others were started
        self.stopping = False
        self.wakeup, self._wakeup_w = socket.socketpair()  # stop signals arrive on it
        self.wakeup.setblocking(False)
        self.directory = ""  # the workers' private sockets (ports.Peers)

    def run(self) -> int:
        began = time.monotonic()
        held: list[socket.socket] = []
        try:
            held = self._claim()  # CannotListen: nothing started
            self.directory = tempfile.mkdtemp(prefix="hxim-workers-")  # only this user may enter
            with _Signals(self._wakeup_w):
                return self._supervise(began)
        finally:
            for sock in held:
                sock.close()
            self.wakeup.close()
            self._wakeup_w.close()
            if self.directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def _claim(self) -> list[socket.socket]:
        """Bind every port of the node (see the module docstring), and give each worker its
        settings: its name, the port numbers bound."""
        held: list[socket.socket] = []
        bound: dict[str, int] = {}
        try:
            for port in node_ports(self.settings):
                sockets = [claim(port)] if port.what == "HTTP" else claim_addresses(port)
                held.extend(sockets)
                bound[port.setting] = sockets[0].getsockname()[1]
        except BaseException:
            for sock in held:
                sock.close()
            raise
        self.workers = [
            Worker(n, self.settings.model_copy(update={**bound, "node_id": name}))
            for n, name in enumerate(worker_names(self.settings), 1)
        ]
        return held

    def _supervise(self, began: float) -> int:
        s = self.workers[0].settings
        xmpp = f" and XMPP {s.xmpp_host}:{s.xmpp_port}" if s.xmpp_tcp_listens else ""
        log.info(
            "hxim %s supervising %d workers on http://%s:%d%s (SO_REUSEPORT)",
            __version__,
            s.workers,
            s.http_host,
            s.http_port,
            xmpp,
            extra={"version": __version__, "workers": s.workers, "pid": os.getpid()},
        )
        self._start(self.workers[0])
        failure: WorkersFailed | None = None
        try:
            while not self.stopping:
                self._wait()
                first = self.workers[0]
                if not self.booted and first.process is not None and first.process.exitcode is not None:
                    return self._failed_start(first)
                if not self.booted and first.serving_since is not None:
                    self.booted = True
                    for worker in self.workers[1:]:
                        self._start(worker)
                self._restart_due()
        except WorkersFailed as exc:
            failure = exc
        except BaseException:  # a bug of the supervisor's, or a worker that cannot be started
            self._stop()
            raise
        self._stop()
        uptime = time.monotonic() - began
        log.info("hxim stopped after %s", in_words(uptime), extra={"uptime_seconds": round(uptime, 3)})
        if failure is not None:
            raise failure
        return 0

    def live(self) -> list[Worker]:
        return [w for w in self.workers if w.process is not None]

    def _start(self, worker: Worker) -> None:
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=work,
            args=(worker.settings, writer, self.debug, Peers(self.directory, worker.number, len(self.workers))),
            name=f"hxim-worker-{worker.number}",
        )
        process.start()
        writer.close()  # the worker has its copy; once it has gone, the supervisor reads EOF
        worker.process, worker.ready, worker.serving_since, worker.due = process, reader, None, None
        log.info(
            "hxim worker %d started (pid %d, node %s)",
            worker.number,
            process.pid,
            worker.name,
            extra={"worker": worker.number, "pid": process.pid, "node": worker.name},
        )

    def _wait(self) -> None:
        """Wait for a stop signal, a worker that serves or ends, or a restart that is due, and
        take note of what came."""
        dues = [w.due for w in self.workers if w.due is not None]
        timeout = max(0.0, min(dues) - time.monotonic()) if dues else None
        ended: dict[int, Worker] = {}
        saying: dict[Connection, Worker] = {}
        for worker in self.live():
            assert worker.process is not None
            ended[worker.process.sentinel] = worker
            if worker.ready is not None:
                saying[worker.ready] = worker
        happened = wait([self.wakeup, *ended, *saying], timeout)
        if self.wakeup in happened:
            self._read_signals()
        for worker in saying.values():  # (a worker that ended may have said it served first)
            self._read_ready(worker)
        for sentinel, worker in ended.items():
            if sentinel in happened and worker.process is not None:
                worker.process.join()
                if self.booted:
                    self._ended(worker)  # else worker 1 ended the start: the caller ends

    def _read_signals(self) -> None:
        try:
            caught = [signal.Signals(number) for number in self.wakeup.recv(64)]
        except BlockingIOError:
            return
        if caught and not self.stopping:
            log.info(
                "hxim stopping (%s): %d workers to stop",
                caught[0].name,
                len(self.live()),
                extra={"signal": caught[0].name},
            )
        self.stopping = self.stopping or bool(caught)

    def _read_ready(self, worker: Worker) -> None:
        """The worker says it serves, or its end of the pipe has closed."""
        reader = worker.ready
        if reader is None or not reader.poll():
            return
        try:
            reader.recv()
            worker.serving_since = time.monotonic()
        except (EOFError, OSError):
            pass  # ended before it served
        reader.close()
        worker.ready = None

    def _ended(self, worker: Worker) -> None:
        """A worker ended while the supervisor runs: log it and start it again, now or later;
        `WorkersFailed` after too many failures in a row."""
        assert worker.process is not None
        code = worker.process.exitcode
        description = worker.describe()
        now = time.monotonic()
        stable = worker.serving_since is not None and now - worker.serving_since >= self.settings.worker_stable_seconds
        worker.failures = 0 if stable else worker.failures + 1
        self._reap(worker)
        extra = {"worker": worker.number, "node": worker.name, "exitcode": code}
        if worker.failures >= self.settings.worker_failures_max:
            log.error("hxim %s %s", description, ending(code), extra=extra)
            raise WorkersFailed(
                f"worker {worker.number} (node {worker.name}) failed {worker.failures} times in a row before it had "
                f"served {self.settings.worker_stable_seconds:g} s, and every worker was stopped; the last time it "
                f"{ending(code)}",
                code if code is not None and code > 0 else EXIT_BUG,
            )
        delay = restart_delay(self.settings, worker.failures)
        worker.due = now + delay
        again = f"starting it again in {delay:g} s" if delay else "starting it again"
        log.warning("hxim %s %s; %s", description, ending(code), again, extra={**extra, "restart_in_seconds": delay})

    def _restart_due(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if worker.process is None and worker.due is not None and worker.due <= now and not self.stopping:
                self._start(worker)

    def _stop(self) -> None:
        """SIGTERM to every worker; wait for them `worker_stop_timeout_seconds`, then kill the rest."""
        for worker in self.workers:
            worker.due = None
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.worker_stop_timeout_seconds
        while self.live() and (left := deadline - time.monotonic()) > 0:
            ended = {w.process.sentinel: w for w in self.live() if w.process is not None}
            happened = wait([self.wakeup, *ended], left)
            if self.wakeup in happened:
                with contextlib.suppress(BlockingIOError):
                    self.wakeup.recv(64)
                self._signal_all(signal.SIGTERM)  # asked again: ask them again
            for sentinel, worker in ended.items():
                if sentinel in happened:
                    self._reap(worker)
        for worker in self.live():
            log.warning(
                "hxim %s did not stop within %g s; killing it",
                worker.describe(),
                self.settings.worker_stop_timeout_seconds,
                extra={"worker": worker.number},
            )
            assert worker.process is not None
            worker.process.kill()
            self._reap(worker)

    def _signal_all(self, sig: signal.Signals) -> None:
        for worker in self.live():
            assert worker.process is not None and worker.process.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, sig)

    def _reap(self, worker: Worker) -> None:
        assert worker.process is not None
        worker.process.join()
        worker.process.close()
        worker.process = None
        if worker.ready is not None:
            worker.ready.close()
            worker.ready = None

    def _failed_start(self, worker: Worker) -> int:
        """Worker 1 ended before it served: end as a single node would have."""
        assert worker.process is not None
        code = worker.process.exitcode
        self._reap(worker)
        if code is not None and code > 0:
            return code  # the worker has said why (cli.report)
        raise WorkersFailed(f"worker 1 (node {worker.name}) {ending(code)} before it served", EXIT_BUG)


class _Signals:
    """While the supervisor runs, SIGTERM and SIGINT write their number to a socket it watches
    (`signal.set_wakeup_fd`) instead of interrupting it."""

    def __init__(self, wakeup: socket.socket) -> None:
        self.wakeup = wakeup
        self.previous: dict[signal.Signals, Any] = {}
        self.previous_fd = -1

    def __enter__(self) -> _Signals:
        self.wakeup.setblocking(False)
        self.previous_fd = signal.set_wakeup_fd(self.wakeup.fileno())
        for sig in STOP_SIGNALS:
            self.previous[sig] = signal.signal(sig, _noted)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self.previous_fd)


def _noted(signum: int, frame: object) -> None:
    """The Python-level handler of a stop signal: the wakeup socket has the news."""


# --- in the worker process -------------------------------------------------------------------------


def work(settings: Settings, ready: Connection, debug: bool, peers: Peers) -> None:
    """A worker process: one node, serving until stopped; its errors said as `hxim serve` says
    them, and its exit code the same."""
    _stop_with_supervisor()
    configure_logging(settings.log_level, settings.log_format, settings.node_id)

    def serving() -> None:
        try:
            ready.send(True)
        except OSError:  # the supervisor has gone: `_stop_with_supervisor` stops this worker
            pass
        ready.close()

    from hxim.server import serve  # the node: none of it is loaded in the supervisor

    try:
        code = serve(settings, serving, peers)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        code = report(exc, debug)
    sys.exit(code)


def _stop_with_supervisor() -> None:
    """Stop this worker (SIGTERM to itself) when the supervisor ends, however it ends."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="hxim-supervisor-watch", daemon=True).start()
