"""The ``--reload`` option of the command line and its check.

It lives apart from :mod:`krait.tap` as the worker options do; tap adds the flag to its own
and calls :func:`check_reload_options` from ``postOptions``, after the worker options.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

__all__ = ["RELOAD_FLAGS", "check_reload_options"]

RELOAD_FLAGS: list[list[Any]] = [
    [
        "reload",
        None,
        "Development: restart the serving process when a .py file of the site changes; a "
        "site that cannot start serves its error page until the next change (never in "
        "production).",
    ],
]
"""``optFlags`` rows, in Twisted's ``usage.Options`` form."""


def check_reload_options(options: MutableMapping[str, Any]) -> None:
    """Refuse ``--reload`` with more than one worker (``options["workers"]`` is a number).

    Raises:
        ValueError: the options do not go together; the message says what to drop.
    """
    if options["reload"] and options["workers"] > 1:
        raise ValueError(
            f"--reload serves the site from one process, restarted on each change; it does not "
            f"go with --workers {options['workers']}: drop --workers while developing, and "
            "--reload in production (SIGHUP reloads the workers there)"
        )
