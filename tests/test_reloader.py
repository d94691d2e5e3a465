"""The ``--reload`` shell in process: the reloading supervisor, the watcher's batches, the
quiet log, and the option's checks."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs

from krait._log_output import LogFormat, krait_observer
from krait._reloader import ReloadingSupervisor, SiteWatcher
from krait._restart_policy import Exit
from krait._worker_handle import WorkerState
from krait.tap import Options


class FakeProcess:
    """A spawned process as Twisted's transport shows it: a pid and the signals sent."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[str] = []

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class ProcessReactor(MemoryReactorClock):
    """A memory reactor that records the processes it is asked to spawn."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[FakeProcess] = []

    def spawnProcess(self, protocol: Any, executable: str, args: Any, **kwargs: Any) -> Any:
        process = FakeProcess(1000 + len(self.spawned))
        self.spawned.append(process)
        return process

    def callFromThread(self, func: Any, *args: Any) -> None:
        self.callLater(0, func, *args)


def supervisor_with_a_serving_worker() -> tuple[ProcessReactor, ReloadingSupervisor]:
    reactor = ProcessReactor()
    supervisor = ReloadingSupervisor(reactor, [], ["site", "--reload"], 1, 30.0)
    worker = supervisor.spawn()
    supervisor.control_line(worker, "ready")
    assert worker.state is WorkerState.SERVING
    return reactor, supervisor


def test_a_change_starts_a_worker_that_replaces_the_serving_one() -> None:
    reactor, supervisor = supervisor_with_a_serving_worker()
    old = supervisor.workers[0]
    supervisor.reload()
    new = supervisor.workers[-1]
    assert new.replaces is old
    supervisor.control_line(new, "ready")
    assert old.state is WorkerState.STOPPING
    assert reactor.spawned[0].signals == ["TERM"]


def test_a_change_while_a_worker_starts_stops_it_and_starts_a_fresh_one() -> None:
    """The starting worker may have read the files before the change."""
    reactor, supervisor = supervisor_with_a_serving_worker()
    serving = supervisor.workers[0]
    supervisor.reload()
    first = supervisor.workers[-1]
    supervisor.reload()
    assert reactor.spawned[1].signals == ["TERM"]
    assert first.state is WorkerState.STOPPING
    fresh = supervisor.workers[-1]
    assert fresh.replaces is serving
    assert len(reactor.spawned) == 3
    supervisor.worker_ended(first, Exit(None, 15))
    assert len(reactor.spawned) == 3  # stopped as asked: not replaced
    supervisor.control_line(fresh, "ready")
    assert serving.state is WorkerState.STOPPING
    assert reactor.spawned[0].signals == ["TERM"]


def test_a_change_while_the_first_worker_starts_replaces_it() -> None:
    reactor = ProcessReactor()
    supervisor = ReloadingSupervisor(reactor, [], ["site", "--reload"], 1, 30.0)
    first = supervisor.spawn()
    supervisor.reload()
    assert first.state is WorkerState.STOPPING
    assert [w.state for w in supervisor.workers] == [WorkerState.STOPPING, WorkerState.STARTING]
    assert supervisor.workers[-1].replaces is None


def test_a_change_while_stopping_starts_nothing() -> None:
    reactor, supervisor = supervisor_with_a_serving_worker()
    supervisor.stopping = True
    supervisor.reload()
    assert len(reactor.spawned) == 1


def watcher(tmp_path: Path, restarts: list[int]) -> SiteWatcher:
    return SiteWatcher(ProcessReactor(), str(tmp_path), lambda: restarts.append(1))


def test_python_code_in_a_batch_logs_one_reload_line_and_restarts(tmp_path: Path) -> None:
    restarts: list[int] = []
    site = watcher(tmp_path, restarts)
    with capturedLogs() as events:
        site.changed([str(tmp_path / ".py" / "init.py"), str(tmp_path / "a.py")])
    lines = [e["line"] for e in events if "line" in e]
    assert lines == [f"reloading ({tmp_path / '.py' / 'init.py'}, {tmp_path / 'a.py'} changed)"]
    assert restarts == [1]


def test_a_template_in_a_batch_is_named_and_restarts_nothing(tmp_path: Path) -> None:
    restarts: list[int] = []
    site = watcher(tmp_path, restarts)
    with capturedLogs() as events:
        site.changed([str(tmp_path / "index.pyml"), str(tmp_path / "notes.txt")])
    lines = [e["line"] for e in events if "line" in e]
    notice = "changed: read again on its next request, no restart"
    assert lines == [f"{tmp_path / 'index.pyml'} {notice}"]
    assert restarts == []


def test_the_watching_thread_hands_each_batch_to_the_reactor(tmp_path: Path) -> None:
    batches = [{(2, str(tmp_path / "b.py")), (1, str(tmp_path / "a.py"))}]
    handed: list[list[str]] = []
    asked: dict[str, Any] = {}

    def watch(root: str, **options: Any) -> Iterator[set[tuple[Any, str]]]:
        asked.update(options, root=root)
        yield from batches

    site = SiteWatcher(ProcessReactor(), str(tmp_path), lambda: None, watch=watch)
    site.changed = handed.append  # type: ignore[method-assign]
    site._follow()
    site.reactor.advance(0)  # type: ignore[attr-defined]
    assert handed == [[str(tmp_path / "a.py"), str(tmp_path / "b.py")]]
    assert asked["root"] == str(tmp_path.resolve())
    assert isinstance(asked["stop_event"], threading.Event)
    assert asked["watch_filter"](1, str(tmp_path / "x.py")) is True
    assert asked["watch_filter"](1, str(tmp_path / "x.py.swp")) is False


def test_a_watcher_that_fails_says_reload_stopped(tmp_path: Path) -> None:
    def watch(root: str, **options: Any) -> Iterator[set[tuple[Any, str]]]:
        raise OSError(28, "inotify watch limit reached")
        yield set()

    site = SiteWatcher(ProcessReactor(), str(tmp_path), lambda: None, watch=watch)
    with capturedLogs() as events:
        site._follow()
        site.reactor.advance(0)  # type: ignore[attr-defined]
    assert any("changes no longer reload the site" in e["log_format"] for e in events)


def observed(quiet: bool, level: LogLevel, *events: dict[str, Any]) -> str:
    stream = io.StringIO()
    observer = krait_observer(stream, level, LogFormat.TEXT, quiet_lifecycle=quiet)
    for event in events:
        observer(event)
    return stream.getvalue()


def event(namespace: str, text: str, level: LogLevel = LogLevel.info) -> dict[str, Any]:
    return {
        "log_namespace": namespace,
        "log_level": level,
        "log_format": "{text}",
        "text": text,
        "log_time": 1.0,
    }


LIFECYCLE = [
    event("krait.supervisor", "supervisor: worker 12 is ready"),
    event("krait.startup", "open-file limit 1024"),
    event("twisted.internet.base", "Received SIGTERM, shutting down."),
    event("log_legacy", "KraitSite starting on 8080"),
    event("watchfiles.main", "1 change detected"),
]


def test_reload_hides_the_lifecycle_lines_below_warn() -> None:
    shown = observed(True, LogLevel.info, *LIFECYCLE, event("krait", "reloading (a.py changed)"))
    assert shown.count("\n") == 1
    assert "reloading (a.py changed)" in shown


def test_reload_still_shows_warnings_page_prints_and_user_logs() -> None:
    shown = observed(
        True,
        LogLevel.info,
        event("krait.supervisor", "worker 12 died", LogLevel.error),
        event("krait.script", "printed by a page"),
        event("myapp.db", "connected"),
        event("krait", "400 for '/x': bad form"),
    )
    assert shown.count("\n") == 4


def test_reload_with_log_level_debug_shows_everything() -> None:
    assert observed(True, LogLevel.debug, *LIFECYCLE).count("\n") == len(LIFECYCLE)


def test_without_reload_lifecycle_lines_are_shown() -> None:
    assert observed(False, LogLevel.info, *LIFECYCLE).count("\n") == len(LIFECYCLE)


def parsed(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


def test_reload_is_off_unless_asked_for() -> None:
    assert not parsed("--site", "s")["reload"]
    assert parsed("--site", "s", "--reload")["reload"]


def test_reload_goes_with_one_worker_only() -> None:
    assert parsed("--site", "s", "--reload", "--workers", "1")["workers"] == 1
    with pytest.raises(Exception, match="drop --workers while developing"):
        parsed("--site", "s", "--reload", "--workers", "2")
