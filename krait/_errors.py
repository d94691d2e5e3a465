"""Domain exceptions raised by krait's pure cores.

The cores (routing, target resolution, site loading) raise these and know nothing of HTTP; one
place in the Twisted layer maps them to statuses: ``NoRouteMatched`` and ``TargetNotFound`` to
404, ``MethodNotAllowed`` to 405 with ``Allow`` (``UpgradeRequired`` to 426), ``BadRequestPath``
to 400, ``ClientInputError`` (a malformed form or JSON body a script asked for) to 400 with
its reason, and ``SiteConfigError`` to a start-up failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "BadRequestPath",
    "ClientInputError",
    "MethodNotAllowed",
    "MissingSecretKeyError",
    "NoRouteMatched",
    "SessionReadOnlyError",
    "SessionStoreError",
    "SessionTooLargeError",
    "SiteConfigError",
    "SiteWarning",
    "TargetNotFound",
    "UpgradeRequired",
]


class SiteConfigError(Exception):
    """The site's configuration (``init.py``, ``krait.config``) cannot be used.

    Args:
        message: what is wrong, naming the offending value.
        filename: the file the problem is in, when known.
        line: the 1-based line in ``filename``, when known.
        hint: how to fix it; empty when there is nothing useful to add.

    Example:
        ``str(SiteConfigError("bad verb", filename="init.py", line=3, hint="use GET"))`` is
        ``"init.py:3: bad verb\\n  fix: use GET"``.
    """

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        location = _location(self.filename, self.line)
        text = f"{location}: {self.message}" if location else self.message
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


@dataclass(frozen=True)
class SiteWarning:
    """Something in the site that will not work as its author meant; the site starts anyway.

    Written as :class:`SiteConfigError` is (file, line, ``fix:``), and logged at start-up.

    Attributes:
        message: what is wrong.
        filename: the file to change, when known.
        line: the 1-based line in ``filename``, when known.
        hint: how to fix it.
    """

    message: str
    filename: str | None = None
    line: int | None = None
    hint: str = ""

    def __str__(self) -> str:
        return str(
            SiteConfigError(self.message, filename=self.filename, line=self.line, hint=self.hint)
        )


def _location(filename: str | None, line: int | None) -> str:
    if filename is not None and line is not None:
        return f"{filename}:{line}"
    if filename is not None:
        return filename
    if line is not None:
        return f"line {line}"
    return ""


class NoRouteMatched(Exception):  # noqa: N818 - named for the condition (STYLE.md)
    """No route accepts the request's path with any method (a 404).

    Args:
        method: the request method, for the log.
        path: the decoded request path, for the log.
    """

    def __init__(self, method: str = "", path: str = "") -> None:
        super().__init__(f"no route matches {method} {path}".strip())
        self.method = method
        self.path = path


class MethodNotAllowed(Exception):  # noqa: N818 - named for the condition (STYLE.md)
    """Some route accepts the request's path, but none with its method (a 405).

    Args:
        allowed: the methods that some route accepts for the path; stored sorted and without
            duplicates in :attr:`allowed`.
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed: tuple[str, ...] = tuple(sorted(set(allowed)))
        super().__init__(f"method not allowed; allowed: {self.allow_header}")

    @property
    def allow_header(self) -> str:
        """The value of the ``Allow`` response header, e.g. ``"GET, HEAD, OPTIONS"``."""
        return ", ".join(self.allowed)


class UpgradeRequired(MethodNotAllowed):
    """A plain request reached a path that only a WebSocket route serves (a 426).

    It is a :class:`MethodNotAllowed`, so a boundary that does not know it still answers 405.
    """


class TargetNotFound(Exception):  # noqa: N818 - named for the condition (STYLE.md)
    """The request's target names no file krait may serve (a 404).

    Args:
        reason: why, for the server log only; never put it in the page, it names paths.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequestPath(Exception):  # noqa: N818 - named for the condition (STYLE.md)
    """The request path cannot be decoded safely (a 400).

    Raised for a malformed ``%`` escape, invalid UTF-8, or a NUL or other control character.

    Args:
        reason: what is wrong with the path, for the log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ViewNotFound(Exception):  # noqa: N818 - named for the condition (STYLE.md)
    """A controller's view or an ``@import`` names no file of the site (a 500, never a 404).

    The page's URL was found; the site's own code points at a file that is missing, so this
    is a fault of the site, reported with the name of whoever asked for the file.

    Args:
        reason: what was asked for, by whom, and how to fix it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClientInputError(ValueError):
    """What the client sent cannot be read as the script asked: a malformed multipart form,
    a body that is not the JSON it should be. krait answers 400 with the message as reason."""


class MissingSecretKeyError(RuntimeError):
    """``krait.session`` was used with signed-cookie sessions and no ``secret_key`` to sign."""


class SessionReadOnlyError(RuntimeError):
    """``krait.session`` was changed where it cannot be saved any more (a WebSocket
    controller, a streamed body); the message says where to change it instead."""


class SessionTooLargeError(ValueError):
    """A signed session cookie would pass the size every browser keeps (4096 bytes)."""


class SessionStoreError(RuntimeError):
    """The server-side session store (Redis) did not answer; the message names it."""
