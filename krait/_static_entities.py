"""Plain GETs of small unchanged files answered from memory: prepared headers and bytes.

A request without validators or ranges for a file of up to 64 KiB, untouched for a second,
gets the headers and bytes computed the first time, checked per request against the file's
inode, size and mtime. That holds for the identity file, for a precompressed sibling sent as
its coding, and for compressed bytes kept by ``_compressed_files``: each is one entry, keyed
by path, type, cache policy and coding, within one memory budget.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from krait._caching import CachePolicy, http_date, make_etag
from krait._compressed_files import Compressed
from krait._compression import encoded_etag, is_compressible
from krait._twisted_compat import prepared_headers

SMALL_FILE = 64 * 1024
"""Files up to this size are written in one go, without a producer, and may be kept."""

_Key = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class Entity:
    """What a plain GET of an unchanged small file is answered with."""

    identity: tuple[int, int, int]
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class StaticEntities:
    """The kept answers, up to ``max_bytes`` of bodies.

    Args:
        max_bytes: the most body bytes kept.
        compression: whether compressible files vary by Accept-Encoding (``Vary``).
    """

    def __init__(self, max_bytes: int = 32 * 1024 * 1024, compression: bool = True) -> None:
        self._max_bytes = max_bytes
        self._held = 0
        self._entities: dict[_Key, Entity] = {}
        self.compression = compression

    def file(
        self, path: str, content_type: str, policy: CachePolicy, coding: str | None = None
    ) -> Entity | None:
        """The answer for the file at ``path`` (a sibling in ``coding`` when given), or None
        when it is too large, too recently changed or unreadable."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (path, content_type, policy.header, coding)
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        entity = self._entities.get(key)
        if entity is not None and entity.identity == identity:
            return entity
        # Only files untouched for a second: their Last-Modified is then a strong validator
        # and never later than the Date of the answer.
        if stat.st_size > SMALL_FILE or stat.st_mtime > time.time() - 1:
            return None
        try:
            with open(path, "rb") as file:
                body = file.read(SMALL_FILE + 1)
                fresh = os.fstat(file.fileno())
        except OSError:
            return None
        unchanged = (fresh.st_ino, fresh.st_size, fresh.st_mtime_ns) == identity
        if not unchanged or len(body) != stat.st_size:
            return None
        etag = make_etag(*identity) if policy.store else None
        vary = coding is not None or (self.compression and is_compressible(content_type, len(body)))
        headers = _headers(policy, stat.st_mtime, content_type, body, etag, coding, vary)
        return self._remember(key, Entity(identity, headers, body))

    def kept(
        self, path: str, form: Compressed, content_type: str, policy: CachePolicy, coding: str
    ) -> Entity | None:
        """The answer for compressed bytes kept for the file at ``path``, or None when the
        file changed less than a second ago."""
        key = (path, content_type, policy.header, coding)
        entity = self._entities.get(key)
        if entity is not None and entity.identity == form.identity:
            return entity
        if form.mtime > time.time() - 1:
            return None
        etag = make_etag(*form.identity) if policy.store else None
        headers = _headers(policy, form.mtime, content_type, form.body, etag, coding, True)
        return self._remember(key, Entity(form.identity, headers, form.body))

    def _remember(self, key: _Key, entity: Entity) -> Entity:
        old = self._entities.pop(key, None)
        if old is not None:
            self._held -= len(old.body)
        if self._held + len(entity.body) > self._max_bytes:
            self._entities.clear()
            self._held = 0
        self._entities[key] = entity
        self._held += len(entity.body)
        return entity


def _headers(
    policy: CachePolicy,
    mtime: float,
    content_type: str,
    body: bytes,
    etag: str | None,
    coding: str | None,
    vary: bool,
) -> tuple[tuple[bytes, bytes], ...]:
    """The headers of a kept answer; a compressed one has no Accept-Ranges (ranges count
    identity bytes) and its coding's ETag."""
    headers = [
        (b"cache-control", policy.header.encode()),
        (b"last-modified", http_date(int(mtime)).encode()),
    ]
    if coding is None:
        headers.append((b"accept-ranges", b"bytes"))
    headers += [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    if coding is not None:
        headers.append((b"content-encoding", coding.encode()))
    if etag is not None:
        headers.append((b"etag", (etag if coding is None else encoded_etag(etag, coding)).encode()))
    if vary:
        headers.append((b"vary", b"Accept-Encoding"))
    return prepared_headers(headers)
