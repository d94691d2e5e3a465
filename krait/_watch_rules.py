"""What ``--reload`` does with a changed file of the site, and the one log line that says so.

A serving process caches two kinds of things, and they go stale in two different ways:

- **Python code** runs once and stays in memory: ``.py/init.py``, the modules it imports
  (controllers, helpers under ``.py/``), everything in ``sys.modules``. Only a new process
  sees a change to them, so a changed ``.py`` file anywhere in the site restarts the serving
  process. A ``.py`` page script would not need it (its compiled form is dropped when its
  modification time changes), but a ``.py`` file may just as well be a module some code
  imports, and a restart too many costs a second where a restart too few costs the reader's
  trust in what they see.
- **Templates** (Pyml, ``.html`` views, Jinja2) are compiled again on their next request
  once their modification time changes, and static files are read as they are now: nothing
  restarts, and the line says so.

Everything else (data files, databases, logs, uploads) changes while the site runs and
triggers nothing. Version-control folders, caches, virtual environments and editors' temporary
files are ignored, so that a save that an editor makes as write-temporary-then-rename is one
change of one file.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable

__all__ = ["IGNORED_DIRS", "ChangeKind", "change_kind", "change_line", "shown_path"]


class ChangeKind(enum.Enum):
    """What a change to a file of the site needs."""

    RESTART = "restart"
    """Python code: the serving process is replaced by one that loads it."""

    REREAD = "reread"
    """A template: read and compiled again on its next request, no restart."""


IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        ".idea",
        ".vscode",
    }
)
"""Folders whose files never trigger anything, wherever they are in the site."""

TEMPLATE_SUFFIXES = (".pyml", ".html", ".htm", ".j2", ".jinja")
"""The templates krait compiles (Pyml, ``.html`` views, Jinja2)."""

_TEMPORARY_SUFFIXES = (".swp", ".swx", ".swo", ".tmp", ".bak", "~", ".kate-swp")
_TEMPORARY_PREFIXES = (".#", "#", ".goutputstream-", "flycheck_")
_JETBRAINS_MARK = "___jb_"
_VIM_PROBE = "4913"  # vim writes and deletes this file to test that a folder is writable

SHOWN_FILES = 3
"""How many changed files the line names before it counts the rest."""


def change_kind(path: str, site_root: str) -> ChangeKind | None:
    """What a change to ``path`` needs, or None when it needs nothing.

    Args:
        path: the changed file, absolute or relative to the current folder.
        site_root: the site folder (the same form as ``path``: both absolute, say).
    """
    relative = os.path.relpath(path, site_root)
    parts = relative.split(os.sep)
    if parts[0] == os.pardir or any(part in IGNORED_DIRS for part in parts[:-1]):
        return None
    name = parts[-1]
    if _is_temporary(name):
        return None
    if name.endswith(".py"):
        return ChangeKind.RESTART
    if name.lower().endswith(TEMPLATE_SUFFIXES):
        return ChangeKind.REREAD
    return None


def _is_temporary(name: str) -> bool:
    return (
        name == _VIM_PROBE
        or _JETBRAINS_MARK in name
        or name.endswith(_TEMPORARY_SUFFIXES)
        or name.startswith(_TEMPORARY_PREFIXES)
    )


def shown_path(path: str, site_root: str, site_as_given: str) -> str:
    """``path`` as the user would write it: below the site folder as they gave it.

    ``/home/me/proj/site_demo/.py/init.py`` under ``site_demo`` is ``site_demo/.py/init.py``.
    """
    relative = os.path.relpath(path, site_root)
    return os.path.normpath(os.path.join(site_as_given, relative))


def change_line(kind: ChangeKind, paths: Iterable[str]) -> str:
    """The one log line for a batch of changes, naming the files.

    ``reloading (site/.py/init.py changed)`` for a restart;
    ``site/.view/home.html changed: read again on its next request, no restart`` otherwise.

    Args:
        kind: what the batch needs.
        paths: the changed files, as :func:`shown_path` shows them.
    """
    names = sorted(set(paths))
    shown = ", ".join(names[:SHOWN_FILES])
    if len(names) > SHOWN_FILES:
        shown += f" and {len(names) - SHOWN_FILES} more"
    if kind is ChangeKind.RESTART:
        return f"reloading ({shown} changed)"
    return f"{shown} changed: read again on its next request, no restart"
