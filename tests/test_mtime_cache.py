"""MtimeCache: compiled values are reused until the file's mtime or size changes."""

from __future__ import annotations

import os
from pathlib import Path

from krait._scripts import MtimeCache


def _upper(content: bytes, path: str) -> str:
    return content.decode().upper()


def test_get_compiles_once_and_reuses_while_the_file_is_unchanged(tmp_path: Path) -> None:
    calls: list[str] = []
    cache = MtimeCache(lambda content, path: calls.append(path) or _upper(content, path))
    page = tmp_path / "page.html"
    page.write_text("one")
    assert cache.get(str(page)) == "ONE"
    assert cache.get(str(page)) == "ONE"
    assert calls == [str(page)]


def test_cached_is_none_until_compiled_then_the_value(tmp_path: Path) -> None:
    cache = MtimeCache(_upper)
    page = tmp_path / "page.html"
    page.write_text("one")
    assert cache.cached(str(page)) is None
    cache.get(str(page))
    assert cache.cached(str(page)) == "ONE"


def test_cached_is_none_once_the_file_changes_or_vanishes(tmp_path: Path) -> None:
    cache = MtimeCache(_upper)
    page = tmp_path / "page.html"
    page.write_text("one")
    cache.get(str(page))
    page.write_text("three")  # a new size
    assert cache.cached(str(page)) is None
    assert cache.get(str(page)) == "THREE"
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # same size, new mtime
    assert cache.cached(str(page)) is None
    cache.get(str(page))
    page.unlink()
    assert cache.cached(str(page)) is None
