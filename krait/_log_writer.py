"""Writes the access log from a thread of its own, so that a slow reader never stalls serving.

The access log goes to stdout by default, and stdout is often a pipe: to a terminal, to
journald, to ``| tee``. A pipe that nobody reads fills up, and a write to it blocks. Written on
the reactor, that would freeze every connection; written here, only this thread waits. While it
waits, text is kept up to a bound, and beyond it lines are dropped and counted rather than
held without limit: losing log lines is better than losing requests or memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, Any

from krait._thread_policy import defer_to_running_threads

RECORD_SIZE = 160
"""The characters a record is counted as towards ``max_pending`` (a typical access line)."""


class LogWriter:
    """Appends text to a file in a background thread.

    Args:
        file: the file to write to; when it has a file descriptor, the thread writes to a
            duplicate of it with ``os.write``, so no Python buffer is left holding data that
            interpreter shutdown would try (and block) to flush.
        max_pending: the most characters kept while the file does not take them.
        name: the thread's name.
        formatter: turns the records given to :meth:`write_records` into text (in the
            writer's thread, so the caller's thread does no formatting).
    """

    def __init__(
        self,
        file: IO[str],
        max_pending: int = 4 * 1024 * 1024,
        name: str = "",
        formatter: Callable[[Sequence[Any]], str] = "".join,
    ) -> None:
        self._file = file
        self._fd = _duplicate_fd(file)
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._formatter = formatter
        self._pending: deque[str | Sequence[Any]] = deque()
        self._pending_size = 0
        self._dropped_lines = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name or "krait-log", daemon=True)
        self._thread.start()

    def write(self, text: str) -> None:
        """Queue ``text`` for writing; never blocks on the file (call from any thread)."""
        with self._lock:
            if self._closing:
                return
            if self._pending_size + len(text) > self._max_pending:
                self._dropped_lines += text.count("\n")
                return
            self._pending.append(text)
            self._pending_size += len(text)
            self._ready.notify()

    def write_records(self, records: Sequence[Any]) -> None:
        """Queue records, one line each, for the formatter to turn into text in the writer's
        thread; never blocks (call from any thread; the list is the writer's from now on)."""
        with self._lock:
            if self._closing:
                return
            size = len(records) * RECORD_SIZE
            if self._pending_size + size > self._max_pending:
                self._dropped_lines += len(records)
                return
            self._pending.append(records)
            self._pending_size += size
            self._ready.notify()

    def take_dropped(self) -> int:
        """How many lines were dropped since the last call."""
        with self._lock:
            dropped, self._dropped_lines = self._dropped_lines, 0
        return dropped

    def close(self, timeout: float = 2.0) -> bool:
        """Write what is queued, then stop the thread, waiting at most ``timeout`` seconds.

        Returns:
            True when everything was written; False when the file still does not take it
            (the thread is a daemon: it does not keep the process alive).
        """
        with self._lock:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        if self._fd is not None:
            os.close(self._fd)
        return True

    def _run(self) -> None:
        defer_to_running_threads()  # woken by the reactor, it must not preempt it for the GIL
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._ready.wait()
                if not self._pending:
                    return
                batch = list(self._pending)
                self._pending.clear()
                self._pending_size = 0
            text = "".join(
                part if isinstance(part, str) else self._formatter(part) for part in batch
            )
            # A closed pipe: nothing to do but go on serving without a log.
            with contextlib.suppress(OSError):
                self._write(text)

    def _write(self, text: str) -> None:
        if self._fd is None:
            self._file.write(text)
            self._file.flush()
            return
        data = memoryview(text.encode("utf-8", "replace"))
        while data:
            data = data[os.write(self._fd, data) :]


def _duplicate_fd(file: IO[str]) -> int | None:
    """A duplicate of ``file``'s descriptor (after flushing it), or None if it has none."""
    try:
        fd = file.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    file.flush()
    return os.dup(fd)
