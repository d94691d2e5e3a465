"""``--reload``: one worker process, replaced by a fresh one when the site's code changes.

``--reload`` reuses the supervisor of ``--workers`` (:mod:`krait._supervisor`) with one
worker. The supervisor binds the listening sockets once and keeps them; a change starts a
new worker, which loads the code and ``init.py`` now on disk, and the old worker drains
once the new one is ready. Connections wait in the kernel's accept queue meanwhile, so the
browser never meets a refused connection, and a request in flight is answered by the old
code.

A :class:`SiteWatcher` follows the site folder with ``watchfiles`` (inotify on Linux, the
native notifications elsewhere) in a thread of its own, and hands each batch of changes
to the reactor. ``watchfiles`` gathers the events of one save (an editor's temporary file,
its rename, the writes) into one batch, and :mod:`krait._watch_rules` decides what the
files need: a restart for Python code, nothing but a log line for templates.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast

import watchfiles
from twisted.application.service import Service
from twisted.logger import Logger

from krait._listeners import bind_listeners, listener_names
from krait._listening import KraitService, ReadyReporter
from krait._supervisor import Supervisor
from krait._watch_rules import ChangeKind, change_kind, change_line, shown_path
from krait._worker_handle import WorkerState
from krait._workers import call_in_reactor

__all__ = ["ReloadingSupervisor", "SiteWatcher", "build_reloader"]

log = Logger(namespace="krait")

QUIET_MS = 100
"""A batch of changes ends after this many milliseconds without another one."""

LONGEST_BATCH_MS = 1600
"""A burst of changes is cut into batches of at most this many milliseconds."""


def build_reloader(options: Any, reactor: Any, log_observer: Any = None) -> KraitService:
    """The service of ``--reload``: the listening sockets, one worker, and the watcher.

    Raises:
        SiteConfigError: a listener is invalid or cannot be bound.
    """
    # Python checks a cached .pyc against its source's size and modification second: a
    # module saved twice within a second at the same size would load its old code. Workers
    # that write no .pyc compile the site's modules from source every time.
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    reporter = ReadyReporter(f"{options['site']} (--reload)")
    service = KraitService(reporter, log_observer)
    ports = bind_listeners(reactor, options)
    for port, name in zip(ports, listener_names(options), strict=True):
        reporter.port_bound(port, "https" if name.startswith(("ssl:", "--https")) else "http")
    supervisor = ReloadingSupervisor(
        reactor, ports, list(options.raw_args), 1, options["shutdown-timeout"]
    )
    cast(Any, supervisor).setServiceParent(service)
    watcher = SiteWatcher(reactor, options["site"], supervisor.reload)
    cast(Any, watcher).setServiceParent(service)
    return service


class ReloadingSupervisor(Supervisor):
    """A :class:`krait._supervisor.Supervisor` whose reloads come from file changes.

    A worker still starting when a change comes may have read the files before it: it is
    stopped, and a fresh one takes its place at once. Waiting for it instead would make a
    quick second save wait for the first one, and a save that fixes an ``init.py`` stuck in
    a loop wait for its start-up limit.
    """

    def reload(self) -> None:
        """Replace every worker, serving or starting, by one that loads the files now."""
        if self.stopping:
            return
        starting = [w for w in self.workers if w.state is WorkerState.STARTING]
        replaced = {w.replaces for w in starting}
        for worker in starting:
            old, worker.replaces = worker.replaces, None
            self.stop_worker(worker)
            self.spawn(replaces=old)
        for worker in list(self.workers):
            serving = worker.state in (WorkerState.SERVING, WorkerState.RETIRING)
            if serving and worker not in replaced:
                self.spawn(replaces=worker)


class SiteWatcher(Service):
    """Follows a site folder and logs one line per batch of changes that matter.

    Args:
        reactor: where the batches are handled.
        site: the site folder as the user gave it (the log names files below it).
        restart: called on the reactor for a batch with Python code in it.
        watch: ``watchfiles.watch`` (or a stand-in with its signature).
    """

    def __init__(
        self,
        reactor: Any,
        site: str,
        restart: Callable[[], object],
        watch: Callable[..., Iterable[set[tuple[Any, str]]]] = watchfiles.watch,
    ) -> None:
        self.reactor = reactor
        self.site = site
        self.root = os.path.realpath(site)
        self.restart = restart
        self._watch = watch
        self._stop = threading.Event()

    def startService(self) -> None:
        cast(Any, super()).startService()
        self._stop.clear()
        threading.Thread(target=self._follow, name="krait-reload-watch", daemon=True).start()

    def stopService(self) -> Any:
        self._stop.set()
        return cast(Any, super()).stopService()

    def _follow(self) -> None:
        """The watching thread: each batch of changes goes to :meth:`changed` on the reactor."""
        try:
            for changes in self._watch(
                self.root,
                watch_filter=self._matters,
                debounce=LONGEST_BATCH_MS,
                step=QUIET_MS,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                call_in_reactor(self.reactor, self.changed, sorted({p for _, p in changes}))
        except Exception as error:
            call_in_reactor(self.reactor, _watch_failed, self.site, error)

    def _matters(self, change: Any, path: str) -> bool:
        return change_kind(path, self.root) is not None

    def changed(self, paths: list[str]) -> None:
        """Log what a batch of changed files needs, and restart for Python code."""
        by_kind: dict[ChangeKind, list[str]] = {}
        for path in paths:
            kind = change_kind(path, self.root)
            if kind is not None:
                by_kind.setdefault(kind, []).append(shown_path(path, self.root, self.site))
        rereads = by_kind.get(ChangeKind.REREAD)
        if rereads:
            log.info("{line}", line=change_line(ChangeKind.REREAD, rereads))
        restarts = by_kind.get(ChangeKind.RESTART)
        if restarts:
            log.info("{line}", line=change_line(ChangeKind.RESTART, restarts))
            self.restart()


def _watch_failed(site: str, error: Exception) -> None:
    log.error(
        "--reload cannot watch {site} any more ({error}): changes no longer reload the site; "
        "restart krait (on Linux, a full inotify watch limit is raised with "
        "`sysctl fs.inotify.max_user_watches`)",
        site=site,
        error=error,
    )
