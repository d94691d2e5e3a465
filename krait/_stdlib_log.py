"""Sends records of Python's :mod:`logging` to Twisted's log, where krait's own lines go.

Site code (and krait's pure modules, which import no Twisted) may log with :mod:`logging`;
without a handler those records would only reach stderr under ``python -m krait`` and be lost
under twistd's log file.
"""

from __future__ import annotations

import logging

from twisted.logger import Logger, LogLevel

_LEVELS: tuple[tuple[int, LogLevel], ...] = (
    (logging.CRITICAL, LogLevel.critical),
    (logging.ERROR, LogLevel.error),
    (logging.WARNING, LogLevel.warn),
    (logging.INFO, LogLevel.info),
    (-1, LogLevel.debug),
)


def twisted_level(levelno: int) -> LogLevel:
    """The Twisted log level of a :mod:`logging` level number."""
    return next(level for threshold, level in _LEVELS if levelno >= threshold)


class TwistedLogHandler(logging.Handler):
    """A :class:`logging.Handler` that emits each record to Twisted's log (thread-safe)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        Logger(namespace=record.name).emit(twisted_level(record.levelno), "{text}", text=text)


def forward_stdlib_logging(level: LogLevel | None = None) -> None:
    """Route :mod:`logging` to Twisted's log, unless the site configured logging itself.

    Args:
        level: ``--log-level``: records from it up are forwarded (Python's default, WARNING
            and up, when None).
    """
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(TwistedLogHandler())
    if level is not None:
        root.setLevel(_STDLIB_LEVELS[level])


_STDLIB_LEVELS = {
    LogLevel.debug: logging.DEBUG,
    LogLevel.info: logging.INFO,
    LogLevel.warn: logging.WARNING,
    LogLevel.error: logging.ERROR,
    LogLevel.critical: logging.CRITICAL,
}
