"""The command-line options of worker processes (``--workers``) and their checks.

They live apart from :mod:`krait.tap` so that the process options read as one block; tap
adds them to its own and calls :func:`check_worker_options` from ``postOptions``.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from krait._restart_policy import worker_count

__all__ = ["WORKER_OPTIONS", "check_worker_options"]

WORKER_OPTIONS: list[list[Any]] = [
    [
        "workers",
        "w",
        "1",
        "Worker processes that share the listening sockets, each running init.py; 'auto': "
        "one per core. SIGHUP then reloads the site with zero downtime.",
    ],
    [
        "max-requests",
        None,
        "0",
        "With --workers: a worker is replaced after this many requests; 0: never.",
    ],
    [
        "max-requests-jitter",
        None,
        "0",
        "With --max-requests: up to this many more requests, random per worker.",
    ],
    [
        "page-kill-timeout",
        None,
        None,
        "With --workers: a worker whose page still runs this many seconds after it started "
        "(past its 504) is replaced (default: 2 x --page-timeout; 0: never).",
    ],
    ["worker-fds", None, None, "Set by the supervisor: the inherited listening sockets."],
    ["worker-control-fd", None, None, "Set by the supervisor: the worker's control pipe."],
]
"""``optParameters`` rows, in Twisted's ``usage.Options`` form."""


def check_worker_options(options: MutableMapping[str, Any]) -> None:
    """Turn the worker options into numbers, ``--page-kill-timeout`` defaulting to twice
    ``--page-timeout`` (already a number of seconds).

    Raises:
        ValueError: a value is not what its option takes; the message names the option.
    """
    options["workers"] = worker_count(str(options["workers"]), os.cpu_count())
    for name in ("max-requests", "max-requests-jitter"):
        options[name] = _count(name, options[name])
    kill = options["page-kill-timeout"]
    try:
        seconds = 2 * options["page-timeout"] if kill is None else float(kill)
    except ValueError:
        raise ValueError(f"--page-kill-timeout takes a number of seconds, not {kill!r}") from None
    if not seconds >= 0:
        raise ValueError("--page-kill-timeout cannot be negative")
    options["page-kill-timeout"] = seconds
    if options["worker-control-fd"] is not None:
        options["worker-control-fd"] = _count("worker-control-fd", options["worker-control-fd"])


def _count(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"--{name} takes a whole number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"--{name} cannot be negative")
    return number
