"""The options that bound what clients and pages may take, their defaults and their checks.

They live apart from :mod:`krait.tap` so that the limits read as one block (each is described
in docs/limits.md with its nginx equivalent); tap adds them to its own options and calls
:func:`check_limit_options` from ``postOptions``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from twisted.python import usage

__all__ = [
    "LIMIT_OPTIONS",
    "check_limit_options",
    "positive_int",
    "seconds_option",
    "whole_number",
]

LIMIT_OPTIONS: list[list[Any]] = [
    ["page-queue", None, "1024", "Pages that may wait for a thread; more get 503."],
    [
        "page-queue-time",
        None,
        "30",
        "Seconds a page may wait for a thread before it gets 503 unrun.",
    ],
    [
        "page-timeout",
        None,
        "60",
        "Seconds a page may run before its client gets 504 and it is stopped; 0: no limit.",
    ],
    [
        "shutdown-timeout",
        None,
        "30",
        "Seconds requests in flight get to finish on SIGTERM/SIGINT before they are cut off.",
    ],
    ["header-timeout", None, "20", "Seconds a request head may take; then 408. 0: none."],
    ["body-timeout", None, "20", "Seconds a request body gets before --body-min-rate counts."],
    [
        "body-min-rate",
        None,
        "500",
        "Bytes/s that each add a second to a body's --body-timeout; slower gets 408. 0: none.",
    ],
    ["keepalive-timeout", None, "60", "Seconds an idle connection stays open. 0: forever."],
    [
        "max-connections",
        None,
        None,
        "Connections open at once; more get 503 (default: what the open-file limit fits).",
    ],
]

_SECONDS = (
    "shutdown-timeout",
    "page-queue-time",
    "page-timeout",
    "header-timeout",
    "body-timeout",
    "keepalive-timeout",
)


def check_limit_options(options: MutableMapping[str, Any]) -> None:
    """Turn the limit options' strings into numbers, in place.

    Raises:
        usage.UsageError: a value is not a number of the right kind (the message names it).
    """
    for name in _SECONDS:
        options[name] = seconds_option(name, options[name])
    options["page-queue"] = positive_int("page-queue", options["page-queue"])
    options["body-min-rate"] = whole_number("body-min-rate", options["body-min-rate"])
    if options["max-connections"] is not None:
        options["max-connections"] = positive_int("max-connections", options["max-connections"])


def seconds_option(name: str, value: Any) -> float:
    """``--name``'s value as seconds (0 or more), or a usage error naming the flag."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise usage.UsageError(f"--{name} takes a number of seconds, not {value!r}") from None
    if not seconds >= 0:
        raise usage.UsageError(f"--{name} cannot be negative")
    return seconds


def whole_number(name: str, value: Any, least: int = 0) -> int:
    """``--name``'s value as a whole number of at least ``least``, or a usage error."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise usage.UsageError(f"--{name} takes a whole number, not {value!r}") from None
    if number < least:
        if least:
            raise usage.UsageError(f"--{name} must be positive, not {number}")
        raise usage.UsageError(f"--{name} cannot be negative")
    return number


def positive_int(name: str, value: Any) -> int:
    """``--name``'s value as a whole number of at least 1, or a usage error."""
    return whole_number(name, value, least=1)
