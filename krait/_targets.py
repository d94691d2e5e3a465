"""URL → file resolution: path decoding, index and extension probing, hidden-path rules.

This is the one place that decides which file a request may reach (spec §1.2, §3.1). It reads
the filesystem (``stat``, ``realpath``) and nothing else. Four rules keep the server safe:

- the path is percent-decoded exactly once, as strict UTF-8, with no control characters;
- no path component below the site root that is longer than one character may start with
  ``.`` (so ``.py/``, ``.view/``, ``.private/``, dotfiles and ``..`` are never served), both as
  requested and after symlinks are resolved;
- no component may name an editor or backup leftover (``x~``, ``x.bak``, ``x.orig``,
  ``x.swp``, ``#x#``), Python bytecode (``__pycache__/``, ``x.pyc``, ``x.pyo``) or a name
  Windows would open as a ``.py`` file (``x.py.``, ``x.py::$DATA``): each would send a
  script's or template's source as plain bytes;
- the file's real path must lie inside the site root's real path.
"""

from __future__ import annotations

import enum
import os
import posixpath
import stat
from dataclasses import dataclass

from krait._errors import BadRequestPath, TargetNotFound

__all__ = [
    "ResolvedTarget",
    "TargetKind",
    "cache_key",
    "decode_path",
    "is_hidden_component",
    "is_source_leftover",
    "kind_for",
    "resolve_target",
    "resolve_view",
]

_PROBE_EXTENSIONS = (".html", ".htm", ".pyml", ".py")
"""Tried in this order when the requested file does not exist."""

_SWAPPED_EXTENSIONS = {".html": ".htm", ".htm": ".html"}

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")

_LEFTOVER_SUFFIXES = ("~", ".bak", ".orig", ".swp")
"""What editors and hand-made backups leave beside a file (vim, emacs, patch, cp)."""

_BYTECODE_SUFFIXES = (".pyc", ".pyo")


class TargetKind(enum.Enum):
    """How a file is served, decided by its extension."""

    STATIC = "static"
    """Any other extension: the bytes are sent as they are."""
    TEMPLATE = "template"
    """``.html``, ``.htm``, ``.pyml``: a Pyml template (static when it holds no Pyml)."""
    SCRIPT = "script"
    """``.py``: executed; its source is never sent."""


_KINDS = {
    ".html": TargetKind.TEMPLATE,
    ".htm": TargetKind.TEMPLATE,
    ".pyml": TargetKind.TEMPLATE,
    ".py": TargetKind.SCRIPT,
}


def kind_for(path: str) -> TargetKind:
    """Decide how a file is served from its name.

    The extension is compared case-insensitively, unlike the original Krait: on a
    case-insensitive filesystem (macOS, Windows) ``/script.PY`` opens ``script.py``, and a
    case-sensitive rule would then send the script's source as raw bytes.

    Args:
        path: a file name or path; only the last extension counts (``a.json.pyml`` is a
            template).

    Returns:
        The kind of file.
    """
    extension = posixpath.splitext(path)[1].lower()
    return _KINDS.get(extension, TargetKind.STATIC)


def target_path(path: bytes) -> bytes | None:
    """The path of a request target, or None when it is neither origin- nor absolute-form.

    An absolute-form target (``GET http://host/path``, RFC 9112 §3.2.2) is reduced to its
    path; anything else not starting with ``/`` is refused.
    """
    if path.startswith(b"/"):
        return path
    if path[:8].lower().startswith((b"http://", b"https://")):  # schemes ignore case
        rest = path.split(b"://", 1)[1]
        slash = rest.find(b"/")
        return rest[slash:] if slash >= 0 else b"/"
    return None


def decode_path(raw_path: bytes) -> str:
    """Percent-decode a request path once, strictly.

    ``%XX`` escapes are decoded and nothing else: ``+`` stays ``+``, and an escaped escape
    such as ``%252e`` becomes the literal text ``%2e``.

    Args:
        raw_path: the path of the request target as sent, without the query.

    Returns:
        The decoded path.

    Raises:
        BadRequestPath: a ``%`` is not followed by two hex digits, the bytes are not valid
            UTF-8 (overlong forms and surrogates included), or the path holds a NUL or other
            control character.
    """
    decoded = _percent_decode(raw_path)
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequestPath(
            f"path is not valid UTF-8: {error.reason} at byte {error.start}"
        ) from error
    for char in text:
        if char < "\x20" or char == "\x7f":
            raise BadRequestPath(f"path holds control character U+{ord(char):04X}")
    return text


def _percent_decode(raw_path: bytes) -> bytes:
    head, *escaped_parts = raw_path.split(b"%")
    decoded = bytearray(head)
    for part in escaped_parts:
        digits = part[:2]
        if len(digits) != 2 or not all(byte in _HEX_DIGITS for byte in digits):
            raise BadRequestPath(f"malformed percent escape {'%' + digits.decode('latin-1')!r}")
        decoded.append(int(digits, 16))
        decoded += part[2:]
    return bytes(decoded)


def is_hidden_component(name: str) -> bool:
    """Tell whether a path component is hidden: longer than one character, starting with ``.``.

    Args:
        name: one path component.

    Returns:
        True for ``.py``, ``.env``, ``..`` and the like; False for ``.`` and ordinary names.
    """
    return len(name) > 1 and name.startswith(".")


def is_source_leftover(name: str) -> bool:
    """Tell whether a path component names a copy of source code rather than a served file.

    Such a file holds a script's or template's source (or its bytecode) under a name that
    would otherwise be sent as it is. Names are compared case-insensitively.

    Args:
        name: one path component.

    Returns:
        True for editor and backup leftovers (``hello.py~``, ``hello.py.bak``,
        ``index.html.orig``, ``hello.py.swp``, Emacs' ``#hello.py#``), Python bytecode
        (``__pycache__``, ``hello.pyc``, ``hello.pyo``), and names that Windows opens as a
        ``.py`` file (``hello.py.``, ``hello.py ``, ``hello.py::$DATA``); False otherwise.
    """
    lowered = name.lower()
    if lowered.endswith(_LEFTOVER_SUFFIXES) or (
        len(name) > 1 and name.startswith("#") and name.endswith("#")
    ):
        return True
    if lowered == "__pycache__" or lowered.endswith(_BYTECODE_SUFFIXES):
        return True
    # Windows drops trailing dots and spaces, and "name:stream" opens a stream of "name".
    windows_name = lowered.split(":", 1)[0].rstrip(". ")
    return windows_name != lowered and windows_name.endswith((".py", *_BYTECODE_SUFFIXES))


@dataclass(frozen=True)
class ResolvedTarget:
    """The file a request's target resolved to.

    Attributes:
        path: the absolute real path (symlinks resolved) of the file to serve.
        relative: the requested file relative to the site root as a normalised posix path,
            after index and extension probing but before symlinks are resolved (so its
            extension is the one the site author wrote).
        kind: how the file is served.
    """

    path: str
    relative: str
    kind: TargetKind


def resolve_target(site_root: str, target: str) -> ResolvedTarget:
    """Find the file a route target (or the decoded request path) names.

    Leading slashes are stripped, so absolute targets stay inside the site root. A directory
    becomes ``<dir>/index``; a missing file is tried with ``.html``, ``.htm``, ``.pyml`` and
    ``.py`` appended, in that order; then a missing ``x.html`` falls back to an existing
    ``x.htm`` and vice versa.

    Args:
        site_root: the site root, as configured (it may be relative, and may itself lie under a
            dot-directory: only components below it are checked).
        target: the route's target, or the decoded request path.

    Returns:
        The file to serve. A ``.py`` file is always a :attr:`TargetKind.SCRIPT`, also when it
        is reached through a symlink with another name.

    Raises:
        TargetNotFound: the target holds a backslash or NUL, or a hidden or source-leftover
            component (as written, after probing, or after resolving symlinks), or resolves
            outside the site root, or names no regular file (a missing file, a directory
            without an index, a trailing slash after a file name).
    """
    if "\\" in target or "\x00" in target:
        raise TargetNotFound(f"target {target!r} holds a backslash or NUL")
    relative = target.lstrip("/")
    _reject_hidden(relative, target)
    expanded = _expand(site_root, relative)
    _reject_hidden(expanded, target)
    if not _is_regular_file(os.path.join(site_root, expanded)):
        raise TargetNotFound(f"target {target!r} names no regular file ({expanded!r})")
    real_path, real_relative = _real_path_inside(site_root, expanded, target)
    for component in real_relative.split(os.sep):
        if is_hidden_component(component) or is_source_leftover(component):
            raise TargetNotFound(
                f"target {target!r} resolves to {real_path!r}: hidden, or a copy of source code"
            )
    kind = kind_for(real_path)
    if kind is not TargetKind.SCRIPT:
        kind = kind_for(expanded)
    return ResolvedTarget(path=real_path, relative=posixpath.normpath(expanded), kind=kind)


def _reject_hidden(relative: str, target: str) -> None:
    for component in relative.split("/"):
        if is_hidden_component(component):
            raise TargetNotFound(f"target {target!r} has hidden component {component!r}")
        if is_source_leftover(component):
            raise TargetNotFound(
                f"target {target!r} names {component!r}, a backup, bytecode or alias of "
                "source code, which is never served"
            )


def _expand(site_root: str, relative: str) -> str:
    if os.path.isdir(os.path.join(site_root, relative)):
        relative = posixpath.join(relative, "index")
    if _is_regular_file(os.path.join(site_root, relative)):
        return relative
    for extension in _PROBE_EXTENSIONS:
        if _is_regular_file(os.path.join(site_root, relative + extension)):
            return relative + extension
    stem, extension = posixpath.splitext(relative)
    if extension in _SWAPPED_EXTENSIONS:
        sibling = stem + _SWAPPED_EXTENSIONS[extension]
        if _is_regular_file(os.path.join(site_root, sibling)):
            return sibling
    return relative


def _is_regular_file(path: str) -> bool:
    # stat() on the path as written, so that "file/" and "file/." fail with ENOTDIR instead of
    # being normalised to "file" first.
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _real_path_inside(site_root: str, relative: str, target: str) -> tuple[str, str]:
    real_root = os.path.realpath(site_root)
    real_path = os.path.realpath(os.path.join(site_root, relative))
    prefix = real_root if real_root.endswith(os.sep) else real_root + os.sep
    if not real_path.startswith(prefix):
        raise TargetNotFound(f"target {target!r} resolves outside the site root: {real_path!r}")
    return real_path, real_path[len(prefix) :]


def cache_key(target: str) -> str:
    """The key that the cache lists are matched against (spec §6).

    Args:
        target: the route target, or the decoded request path (the URL for MVC routes).

    Returns:
        The target with leading slashes stripped, normalised (``posixpath.normpath``);
        ``"."`` for ``/``. Index and extension probing are not applied: ``/`` is ``"."`` and
        ``/db`` is ``"db"``.
    """
    return posixpath.normpath(target.lstrip("/"))


def resolve_view(site_root: str, view: str) -> str:
    """Find an MVC view or an ``@import``-ed template.

    Views conventionally live in ``.view/``, so the hidden-path rule does not apply, but the
    file must still lie inside the site root.

    Args:
        site_root: the site root, as configured.
        view: the view's path relative to the site root (e.g. ``".view/index.html"``; leading
            slashes are ignored), or an absolute filesystem path inside the site root, as
            ``krait.get_full_path`` allowed.

    Returns:
        The absolute real path of the view.

    Raises:
        TargetNotFound: the view holds a NUL, resolves outside the site root, or is not a
            regular file.
    """
    if "\x00" in view:
        raise TargetNotFound(f"view {view!r} holds a NUL")
    relative = view.lstrip("/")
    if os.path.isabs(view):
        # krait.get_full_path() joins with os.path.join, which keeps an absolute path as it is.
        try:
            _real_path_inside(site_root, view, view)
            relative = view
        except TargetNotFound:
            pass
    real_path, _ = _real_path_inside(site_root, relative, view)
    if not _is_regular_file(os.path.join(site_root, relative)):
        raise TargetNotFound(f"view {view!r} is not a regular file ({real_path!r})")
    return real_path
