"""The Brotli or gzip form of a static file: a fresh precompressed sibling, or bytes kept.

A ``style.css.br`` (Brotli) or ``style.css.gz`` (gzip) next to ``style.css`` and not older than
it is sent as that coding's form (made ahead of time, at the best level, costing no CPU per
request). Without one, a file up to ``ON_THE_FLY_LIMIT`` (64 KiB) is compressed in memory on
the reactor, and the result kept (for a source up to ``CACHED_SOURCE``), keyed by path and
coding and checked against the file's inode, size and mtime, so that a file is compressed once
per version and coding. Larger files without a sibling are sent as they are: compressing them
per request would stall every other connection (precompress them, see docs/static-files.md).
"""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass

from krait._compression import MAX_ON_THE_FLY, SIBLING_SUFFIX, compress

ON_THE_FLY_LIMIT = MAX_ON_THE_FLY
"""Largest file compressed per request when it has no precompressed sibling."""

CACHED_SOURCE = 64 * 1024
"""Largest file whose compressed bytes are kept in memory."""


@dataclass(frozen=True)
class Compressed:
    """The compressed bytes of a file as it was when read."""

    identity: tuple[int, int, int]
    mtime: float
    body: bytes


class CompressedForms:
    """Finds or makes the compressed forms of files, keeping small ones up to ``max_bytes``."""

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._held = 0
        self._kept: dict[tuple[str, str], Compressed] = {}

    @property
    def held_bytes(self) -> int:
        """The compressed bytes kept in memory."""
        return self._held

    def find(self, path: str, source: os.stat_result, coding: str) -> str | Compressed | None:
        """The path of a fresh sibling in ``coding``, the compressed bytes, or None (identity)."""
        sibling = path + SIBLING_SUFFIX[coding]
        try:
            found = os.stat(sibling)
        except OSError:
            found = None
        if (
            found is not None
            and stat_module.S_ISREG(found.st_mode)
            and found.st_mtime_ns >= source.st_mtime_ns
        ):
            return sibling
        if source.st_size > ON_THE_FLY_LIMIT:
            return None
        identity = (source.st_ino, source.st_size, source.st_mtime_ns)
        kept = self._kept.get((path, coding))
        if kept is not None and kept.identity == identity:
            return kept
        compressed = _compress(path, identity, source.st_mtime, coding)
        if compressed is not None and source.st_size <= CACHED_SOURCE:
            self._remember((path, coding), compressed)
        return compressed

    def _remember(self, key: tuple[str, str], compressed: Compressed) -> None:
        old = self._kept.pop(key, None)
        if old is not None:
            self._held -= len(old.body)
        if self._held + len(compressed.body) > self._max_bytes:
            self._kept.clear()
            self._held = 0
        self._kept[key] = compressed
        self._held += len(compressed.body)


def _compress(
    path: str, identity: tuple[int, int, int], mtime: float, coding: str
) -> Compressed | None:
    """Read and compress the file, or None if it changed meanwhile (the identity would lie)."""
    try:
        with open(path, "rb") as file:
            body = file.read(identity[1] + 1)
            fresh = os.fstat(file.fileno())
    except OSError:
        return None
    if (fresh.st_ino, fresh.st_size, fresh.st_mtime_ns) != identity or len(body) != identity[1]:
        return None
    return Compressed(identity, mtime, compress(body, coding))
