"""Records of Python's logging module reach Twisted's log."""

from __future__ import annotations

import logging

from twisted.logger import LogLevel, capturedLogs

from krait._stdlib_log import TwistedLogHandler, forward_stdlib_logging, twisted_level


def test_levels_map_to_the_nearest_twisted_level() -> None:
    assert twisted_level(logging.CRITICAL) is LogLevel.critical
    assert twisted_level(logging.ERROR) is LogLevel.error
    assert twisted_level(logging.WARNING) is LogLevel.warn
    assert twisted_level(logging.INFO) is LogLevel.info
    assert twisted_level(logging.DEBUG) is LogLevel.debug
    assert twisted_level(logging.WARNING + 5) is LogLevel.warn


def test_a_record_is_emitted_in_its_logger_namespace_with_its_text() -> None:
    logger = logging.getLogger("krait.test.forwarding")
    handler = TwistedLogHandler()
    logger.addHandler(handler)
    try:
        with capturedLogs() as events:
            logger.warning("form is %s", "odd")
    finally:
        logger.removeHandler(handler)
    assert [(e["log_namespace"], e["log_level"], e["text"]) for e in events] == [
        ("krait.test.forwarding", LogLevel.warn, "form is odd")
    ]


def test_forwarding_leaves_a_logging_setup_of_the_site_alone() -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    own = logging.NullHandler()
    root.handlers[:] = [own]
    try:
        forward_stdlib_logging()
        assert root.handlers == [own]
        root.handlers[:] = []
        forward_stdlib_logging()
        assert [type(h) for h in root.handlers] == [TwistedLogHandler]
    finally:
        root.handlers[:] = saved
