"""The supervisor of ``--workers N``: N worker processes share the listening sockets.

CPython runs Python code on one core at a time, so one process serves pages on one core.
With ``--workers N`` the process started is a supervisor that serves nothing itself: it
binds every listener once (:func:`krait._listeners.bind_listeners`) and starts N workers,
each ``python -m krait`` with the same command line plus the inherited sockets
(``--worker-fds``) and a control pipe (``--worker-control-fd``, see
:mod:`krait._worker_process`). Each worker loads the site and runs ``init.py`` itself, so
module globals are per worker. The kernel spreads connections over the workers' ``accept``.

The supervisor runs a Twisted reactor only for processes, pipes, timers and signals:

- A worker that exits on its own (a crash, SIGKILL, a non-zero status) is replaced after
  an exponential back-off (:class:`krait._restart_policy.Backoff`); one that exits with
  status 0 unasked is replaced at once.
- ``retire`` from a worker (``--max-requests``, ``--page-kill-timeout``) starts a
  replacement, and the retiring worker gets SIGTERM once the replacement is ready.
- SIGHUP reloads: N new workers start with the code and ``init.py`` now on disk, and each
  old worker gets SIGTERM once its replacement reported ``ready``. A new worker that exits
  before it is ready (a broken ``init.py`` exits with status 1) leaves its old worker
  serving, and the log says why.
- SIGTERM or SIGINT sends SIGTERM to every worker, which drains (requests in flight are
  answered, WebSockets closed with 1001) and exits 0; the supervisor then exits 0.
  Workers still running ``--shutdown-timeout`` + :data:`STOP_MARGIN` seconds later are
  killed.
- A ready worker whose heartbeat stops for :data:`SILENCE_LIMIT` seconds, or a new one
  not ready within :data:`READY_LIMIT`, is killed and replaced.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, cast

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from krait._listeners import bind_listeners, listener_names
from krait._listening import ReadyReporter
from krait._metrics_tally import WorkerTotals
from krait._restart_policy import Backoff, Exit
from krait._thread_policy import WORKER_SLOT_VARIABLE
from krait._twisted_compat import exit_normally_after_signal
from krait._worker_handle import Worker, WorkerState

log = Logger(namespace="krait.supervisor")

STOP_MARGIN = 15.0
"""Seconds a draining worker gets beyond --shutdown-timeout (connections flush, WebSockets
close, threads join) before it is killed."""

SILENCE_LIMIT = 30.0
"""Seconds without a heartbeat after which a ready worker counts as stuck."""

READY_LIMIT = 120.0
"""Seconds a new worker may take to load the site and report ready."""

EXIT_SITE_CANNOT_START = 1
"""The status of a worker (and of krait) whose site cannot start."""


def build_supervisor(
    options: Any, reactor: Any, service: MultiService, reporter: ReadyReporter
) -> MultiService:
    """Bind the listeners and add a :class:`Supervisor` of ``options["workers"]`` workers;
    ``reporter`` learns where they serve.

    Returns:
        ``service``, for ``build_service`` to return.

    Raises:
        SiteConfigError: a listener is invalid or cannot be bound.
    """
    ports = bind_listeners(reactor, options)
    for port, name in zip(ports, listener_names(options), strict=True):
        reporter.port_bound(port, "https" if name.startswith(("ssl:", "--https")) else "http")
    supervisor = Supervisor(
        reactor, ports, list(options.raw_args), options["workers"], options["shutdown-timeout"]
    )
    cast(Any, supervisor).setServiceParent(service)
    return service


class WorkerProtocol(ProcessProtocol):
    """Reads a worker's control lines and reports its end to the supervisor."""

    def __init__(self, supervisor: Supervisor, control_fd: int) -> None:
        self.supervisor = supervisor
        self.control_fd = control_fd
        self.worker: Worker | None = None
        self._buffer = b""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD != self.control_fd or self.worker is None:
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self.supervisor.control_line(self.worker, line.decode(errors="replace"))

    def processEnded(self, reason: Failure) -> None:
        if self.worker is not None:
            self.supervisor.worker_ended(self.worker, describe_exit(reason))


def describe_exit(reason: Failure) -> Exit:
    """The :class:`Exit` in Twisted's ``processEnded`` reason."""
    if reason.check(ProcessDone):
        return Exit(0, None)
    if reason.check(ProcessTerminated):
        value: Any = reason.value
        return Exit(value.exitCode, value.signal)
    return Exit(None, None)


class Supervisor(Service):
    """Starts, replaces, reloads and stops the worker processes.

    Args:
        reactor: the reactor that spawns the processes and runs the timers.
        ports: the bound listening ports, in listener order (not read here).
        argv: the command line the workers get, before their ``--worker-*`` options.
        count: how many workers serve.
        shutdown_timeout: ``--shutdown-timeout``; workers get it plus :data:`STOP_MARGIN`.
    """

    def __init__(
        self, reactor: Any, ports: list[Any], argv: list[str], count: int, shutdown_timeout: float
    ) -> None:
        self.reactor = reactor
        self.ports = ports
        self.argv = argv
        self.count = count
        self.stop_limit = shutdown_timeout + STOP_MARGIN
        self.workers: list[Worker] = []
        self.backoff = Backoff()
        self.ever_ready = False
        self.stopping = False
        self.exit_status = 0
        self._restarts: list[Any] = []
        self._all_gone: list[Deferred[None]] = []
        self._watch = LoopingCall(self._check_health)
        self._watch.clock = reactor
        self.metrics: WorkerTotals | None = None  # the workers' counts (--metrics-listen)

    def startService(self) -> None:
        cast(Any, super()).startService()
        signal.signal(signal.SIGHUP, self._on_sighup)
        self.reactor.callWhenRunning(self._start)

    def _start(self) -> None:
        log.info("supervisor: starting {count} workers", count=self.count)
        for _ in range(self.count):
            self.spawn()
        self._watch.start(1.0, now=False)

    def _on_sighup(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self.reload)

    def spawn(self, replaces: Worker | None = None) -> Worker:
        """Start a worker; it sends ``replaces`` SIGTERM-wards once it is ready."""
        child_fds: dict[int, Any] = {0: "w", 1: 1, 2: 2}
        listen_fds = []
        for number, port in enumerate(self.ports, start=3):
            child_fds[number] = port.fileno()
            listen_fds.append(str(number))
        control_fd = 3 + len(self.ports)
        child_fds[control_fd] = "r"
        args = [
            sys.executable,
            "-m",
            "krait",
            *self.argv,
            "--worker-fds",
            ",".join(listen_fds),
            "--worker-control-fd",
            str(control_fd),
        ]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
        # Its place among the workers: --cpu-affinity auto gives each place its own core.
        slot = replaces.slot if replaces is not None else self._free_slot()
        environment[WORKER_SLOT_VARIABLE] = str(slot)
        protocol = WorkerProtocol(self, control_fd)
        process = self.reactor.spawnProcess(
            protocol, sys.executable, args, env=environment, childFDs=child_fds
        )
        now = self.reactor.seconds()
        worker = Worker(
            process=process,
            pid=process.pid,
            started=now,
            replaces=replaces,
            last_beat=now,
            slot=slot,
        )
        protocol.worker = worker
        self.workers.append(worker)
        return worker

    def _free_slot(self) -> int:
        """The lowest place no running worker holds."""
        taken = {worker.slot for worker in self.workers}
        return next(slot for slot in range(len(taken) + 1) if slot not in taken)

    def reload(self) -> None:
        """SIGHUP: replace every serving worker by a new one, each old one once its new one
        is ready."""
        if self.stopping:
            return
        replaced = {w.replaces for w in self.workers if w.state is WorkerState.STARTING}
        old = [
            w
            for w in self.workers
            if w.state in (WorkerState.SERVING, WorkerState.RETIRING) and w not in replaced
        ]
        log.info(
            "supervisor: SIGHUP: starting {count} new workers; the old ones drain once the "
            "new ones are ready",
            count=len(old),
        )
        for worker in old:
            self.spawn(replaces=worker)

    def control_line(self, worker: Worker, line: str) -> None:
        """A line from a worker's control pipe: ``ready``, ``beat``, ``retire ...``, ``metrics``."""
        worker.last_beat = self.reactor.seconds()
        if line == "ready" and worker.state is WorkerState.STARTING:
            self._ready(worker)
        elif line.startswith("retire ") and worker.state is WorkerState.SERVING:
            log.info(
                "supervisor: worker {pid} is recycled: {reason}", pid=worker.pid, reason=line[7:]
            )
            worker.state = WorkerState.RETIRING
            if not self.stopping:
                self.spawn(replaces=worker)
        elif line.startswith("metrics ") and self.metrics is not None:
            self.metrics.report(worker, line[8:])

    def _ready(self, worker: Worker) -> None:
        worker.state = WorkerState.SERVING
        self.ever_ready = True
        old, worker.replaces = worker.replaces, None
        if old is not None and old in self.workers:
            log.info(
                "supervisor: worker {pid} is ready; worker {old} drains and stops",
                pid=worker.pid,
                old=old.pid,
            )
            self.stop_worker(old)
        else:
            log.info("supervisor: worker {pid} is ready", pid=worker.pid)
        if self.stopping:
            self.stop_worker(worker)

    def stop_worker(self, worker: Worker) -> None:
        """SIGTERM: the worker stops accepting, drains and exits; killed if it takes too long."""
        if worker.state is WorkerState.STOPPING:
            return
        worker.state = WorkerState.STOPPING
        worker.signal("TERM")
        worker.kill_timer = self.reactor.callLater(self.stop_limit, self._kill_late, worker)

    def _kill_late(self, worker: Worker) -> None:
        log.warn(
            "supervisor: worker {pid} did not stop within {seconds}s of SIGTERM: killed",
            pid=worker.pid,
            seconds=self.stop_limit,
        )
        worker.signal("KILL")

    def worker_ended(self, worker: Worker, how: Exit) -> None:
        """A worker process ended: forget it, and replace it if it was not asked to stop."""
        if worker in self.workers:
            self.workers.remove(worker)
        if worker.kill_timer is not None and worker.kill_timer.active():
            worker.kill_timer.cancel()
        for other in self.workers:
            if other.replaces is worker:
                other.replaces = None  # its replacement is coming already
                worker.state = WorkerState.STOPPING
        if self.stopping:
            log.info("supervisor: worker {pid} stopped ({how})", pid=worker.pid, how=how)
            self._maybe_all_gone()
        elif worker.state is WorkerState.STOPPING:
            log.info("supervisor: worker {pid} stopped ({how})", pid=worker.pid, how=how)
        elif worker.state is WorkerState.STARTING:
            self._not_ready(worker, how)
        else:
            self._replace(worker, how)

    def _not_ready(self, worker: Worker, how: Exit) -> None:
        if worker.replaces is not None:
            worker.replaces.state = WorkerState.SERVING
            log.error(
                "supervisor: reload failed: new worker {pid} ended ({how}) before it was "
                "ready (its error is above); worker {old} keeps serving",
                pid=worker.pid,
                how=how,
                old=worker.replaces.pid,
            )
        elif not self.ever_ready and how.status == EXIT_SITE_CANNOT_START:
            log.error("supervisor: the site cannot start (the error is above); exiting")
            self.exit_status = EXIT_SITE_CANNOT_START
            self.reactor.addSystemEventTrigger("after", "shutdown", _exit_now, self)
            self.reactor.stop()
        else:
            self._replace(worker, how)

    def _replace(self, worker: Worker, how: Exit) -> None:
        if how.clean:
            log.info(
                "supervisor: worker {pid} exited ({how}); starting a replacement",
                pid=worker.pid,
                how=how,
            )
            self.spawn()
            return
        delay = self.backoff.delay_after_crash(self.reactor.seconds() - worker.started)
        log.error(
            "supervisor: worker {pid} died ({how}); a replacement starts in {delay}s",
            pid=worker.pid,
            how=how,
            delay=delay,
        )
        self._restarts = [c for c in self._restarts if c.active()]
        self._restarts.append(self.reactor.callLater(delay, self._restart))

    def _restart(self) -> None:
        if not self.stopping:
            self.spawn()

    def _check_health(self) -> None:
        now = self.reactor.seconds()
        for worker in list(self.workers):
            if worker.state is WorkerState.STARTING and now - worker.started > READY_LIMIT:
                log.error(
                    "supervisor: worker {pid} was not ready within {limit}s: killed",
                    pid=worker.pid,
                    limit=READY_LIMIT,
                )
                worker.signal("KILL")
            elif worker.state is WorkerState.SERVING and now - worker.last_beat > SILENCE_LIMIT:
                log.error(
                    "supervisor: worker {pid} sent no heartbeat for {limit}s (its reactor is "
                    "stuck): killed",
                    pid=worker.pid,
                    limit=SILENCE_LIMIT,
                )
                worker.signal("KILL")

    def stopService(self) -> Deferred[None]:
        """SIGTERM/SIGINT: drain every worker, then close the listening sockets."""
        cast(Any, super()).stopService()
        self.stopping = True
        for call in self._restarts:
            if call.active():
                call.cancel()
        if self._watch.running:
            self._watch.stop()
        if self.workers:
            log.info("supervisor: stopping {count} workers", count=len(self.workers))
        for worker in list(self.workers):
            if worker.state is not WorkerState.STARTING:
                self.stop_worker(worker)
            else:
                worker.signal("TERM")  # it has no site to drain yet
        gone: Deferred[None] = Deferred()
        self._all_gone.append(gone)
        self._maybe_all_gone()
        gone.addCallback(self._close_ports)
        return gone

    def _maybe_all_gone(self) -> None:
        if self.workers:
            return
        waiters, self._all_gone = self._all_gone, []
        for waiter in waiters:
            waiter.callback(None)

    def _close_ports(self, _: object) -> Deferred[Any]:
        exit_normally_after_signal(self.reactor)
        return DeferredList([port.stopListening() for port in self.ports])


def _exit_now(supervisor: Supervisor) -> None:
    """End the process with the supervisor's status, after the reactor stopped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(supervisor.exit_status)
