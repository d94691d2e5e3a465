"""Finding or making the Brotli or gzip form of a file, from plain files on disk."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import brotli

from krait._compressed_files import ON_THE_FLY_LIMIT, Compressed, CompressedForms
from krait._compression import BROTLI, GZIP


def _file(path: Path, content: bytes, mtime: int = 1_600_000_000) -> str:
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return str(path)


def test_a_small_file_is_compressed_once_and_kept(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.css", b"a { }\n" * 500)
    forms = CompressedForms()
    first = forms.find(path, os.stat(path), GZIP)
    assert isinstance(first, Compressed)
    assert gzip.decompress(first.body) == b"a { }\n" * 500
    assert forms.find(path, os.stat(path), GZIP) is first


def test_a_changed_file_is_compressed_again(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.css", b"a { }\n" * 500)
    forms = CompressedForms()
    first = forms.find(path, os.stat(path), GZIP)
    _file(tmp_path / "a.css", b"b { }\n" * 500, mtime=1_600_000_100)
    second = forms.find(path, os.stat(path), GZIP)
    assert isinstance(second, Compressed) and second is not first
    assert gzip.decompress(second.body) == b"b { }\n" * 500


def test_a_sibling_is_used_only_when_not_older_than_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.js", b"x" * 2000)
    sibling = _file(tmp_path / "a.js.gz", gzip.compress(b"x" * 2000), mtime=1_600_000_000)
    forms = CompressedForms()
    assert forms.find(path, os.stat(path), GZIP) == sibling
    os.utime(sibling, (1_500_000_000, 1_500_000_000))
    assert isinstance(forms.find(path, os.stat(path), GZIP), Compressed)


def test_a_file_too_large_to_compress_per_request_gets_no_form(tmp_path: Path) -> None:
    path = _file(tmp_path / "big.txt", b"y" * (ON_THE_FLY_LIMIT + 1))
    assert CompressedForms().find(path, os.stat(path), GZIP) is None


def test_the_kept_bytes_stay_within_the_budget(tmp_path: Path) -> None:
    forms = CompressedForms(max_bytes=5000)
    for name in ("a", "b", "c"):
        path = _file(tmp_path / f"{name}.txt", os.urandom(3000))
        assert isinstance(forms.find(path, os.stat(path), GZIP), Compressed)
        assert 3000 < forms.held_bytes <= 5000


def test_each_coding_has_its_own_kept_form(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.css", b"a { color: red }\n" * 300)
    forms = CompressedForms()
    as_brotli = forms.find(path, os.stat(path), BROTLI)
    as_gzip = forms.find(path, os.stat(path), GZIP)
    assert isinstance(as_brotli, Compressed) and isinstance(as_gzip, Compressed)
    assert brotli.decompress(as_brotli.body) == gzip.decompress(as_gzip.body)
    assert forms.find(path, os.stat(path), BROTLI) is as_brotli
    assert forms.held_bytes == len(as_brotli.body) + len(as_gzip.body)


def test_a_br_sibling_serves_brotli_and_a_gz_sibling_serves_gzip(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.js", b"x" * 2000)
    br_sibling = _file(tmp_path / "a.js.br", brotli.compress(b"x" * 2000))
    forms = CompressedForms()
    assert forms.find(path, os.stat(path), BROTLI) == br_sibling
    assert isinstance(forms.find(path, os.stat(path), GZIP), Compressed)
