"""The demo's session key when ``KRAIT_DEMO_SECRET_KEY`` is not set: random, written once.

Sessions are signed cookies, so every process that reads them needs the same key. With
``--workers N`` each worker runs ``init.py`` itself: a key drawn in ``init.py`` would differ
from worker to worker, and a visitor's name would vanish whenever the kernel handed their
socket to another worker. So the first worker to start draws the key and links it into a file
named after the site folder, in the temp folder; the others (and a restart, or ``--reload``)
read it back. A second machine has another file: instances behind one proxy need the
environment variable.
"""

import hashlib
import logging
import os
import secrets
import stat
import tempfile

log = logging.getLogger("site_demo")


class UnsafeKeyFile(RuntimeError):  # noqa: N818 - named for the condition (STYLE.md)
    """The key file exists but another user could have written or read it."""


def key_file(site_root):
    """Where the fallback key of the site at ``site_root`` lives."""
    digest = hashlib.sha256(os.path.realpath(site_root).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"krait-demo-{os.getuid()}-{digest}.key")


def fallback_secret_key(site_root):
    """The key in :func:`key_file`, drawn and written by the first caller.

    The key is written to a file of this process first and then hard-linked to its name, which
    succeeds for one process only: no worker ever reads a half-written key.

    Raises:
        UnsafeKeyFile: the file is a symbolic link, not ours, or readable by others.
    """
    path = key_file(site_root)
    draft = f"{path}.{os.getpid()}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as draft_file:
        draft_file.write(secrets.token_urlsafe(32))
    try:
        os.link(draft, path)
        log.warning(
            "KRAIT_DEMO_SECRET_KEY is not set: the demo signs sessions with a random key kept "
            "in %s; other instances cannot read them (set the variable on every instance)",
            path,
        )
    except FileExistsError:
        pass
    finally:
        os.unlink(draft)
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor) as key:
        info = os.fstat(key.fileno())
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UnsafeKeyFile(f"{path} is not private to this user: delete it")
        return key.read()
