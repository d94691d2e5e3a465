"""The guestbook's entries, kept in memory for as long as the server runs.

A module in ``.py/`` is imported once and shared by every request (and every thread that
serves one), so its state persists between requests and is guarded by a lock.
"""

import datetime
import threading
from collections import deque

MAX_ENTRIES = 50
MAX_NAME = 60
MAX_MESSAGE = 1000

_lock = threading.Lock()
_entries = deque(maxlen=MAX_ENTRIES)


def add(name, message):
    """Store an entry, newest first.

    Returns:
        None when stored, else the reason to show with the form.
    """
    name, message = name.strip(), message.strip()
    if not name or not message:
        return "Please give both a name and a message."
    if len(name) > MAX_NAME or len(message) > MAX_MESSAGE:
        return f"Names stop at {MAX_NAME} characters and messages at {MAX_MESSAGE}."
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with _lock:
        _entries.appendleft((name, message, when))
    return None


def entries():
    """The entries as ``(name, message, when)``, newest first."""
    with _lock:
        return list(_entries)
