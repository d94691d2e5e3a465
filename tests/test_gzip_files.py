"""Finding or making the gzip form of a file, from plain files on disk."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from krait._gzip_files import ON_THE_FLY_LIMIT, Compressed, GzipForms


def _file(path: Path, content: bytes, mtime: int = 1_600_000_000) -> str:
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return str(path)


def test_a_small_file_is_compressed_once_and_kept(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.css", b"a { }\n" * 500)
    forms = GzipForms()
    first = forms.find(path, os.stat(path))
    assert isinstance(first, Compressed)
    assert gzip.decompress(first.body) == b"a { }\n" * 500
    assert forms.find(path, os.stat(path)) is first


def test_a_changed_file_is_compressed_again(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.css", b"a { }\n" * 500)
    forms = GzipForms()
    first = forms.find(path, os.stat(path))
    _file(tmp_path / "a.css", b"b { }\n" * 500, mtime=1_600_000_100)
    second = forms.find(path, os.stat(path))
    assert isinstance(second, Compressed) and second is not first
    assert gzip.decompress(second.body) == b"b { }\n" * 500


def test_a_sibling_is_used_only_when_not_older_than_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.js", b"x" * 2000)
    sibling = _file(tmp_path / "a.js.gz", gzip.compress(b"x" * 2000), mtime=1_600_000_000)
    forms = GzipForms()
    assert forms.find(path, os.stat(path)) == sibling
    os.utime(sibling, (1_500_000_000, 1_500_000_000))
    assert isinstance(forms.find(path, os.stat(path)), Compressed)


def test_a_file_too_large_to_compress_per_request_gets_no_form(tmp_path: Path) -> None:
    path = _file(tmp_path / "big.txt", b"y" * (ON_THE_FLY_LIMIT + 1))
    assert GzipForms().find(path, os.stat(path)) is None


def test_the_kept_bytes_stay_within_the_budget(tmp_path: Path) -> None:
    forms = GzipForms(max_bytes=5000)
    for name in ("a", "b", "c"):
        path = _file(tmp_path / f"{name}.txt", os.urandom(3000))
        assert isinstance(forms.find(path, os.stat(path)), Compressed)
        assert 3000 < forms.held_bytes <= 5000
