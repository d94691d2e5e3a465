"""The answers kept for plain GETs of small files, identity or compressed, from files on disk."""

from __future__ import annotations

import os
import time
from pathlib import Path

from krait._caching import CachePolicy
from krait._compressed_files import CompressedForms
from krait._compression import BROTLI, GZIP
from krait._static_entities import Entity, StaticEntities

POLICY = CachePolicy(store=True, header="no-cache")
CSS = b"a { color: red }\n" * 200


def header_table(entity: Entity) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in entity.headers}


def _file(path: Path, content: bytes, mtime: float = 1_600_000_000) -> str:
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return str(path)


def test_a_compressible_identity_answer_varies_and_accepts_ranges(tmp_path: Path) -> None:
    entity = StaticEntities().file(_file(tmp_path / "a.css", CSS), "text/css", POLICY)
    assert entity is not None and entity.body == CSS
    headers = header_table(entity)
    assert headers[b"vary"] == b"Accept-Encoding"
    assert headers[b"accept-ranges"] == b"bytes"
    assert b"content-encoding" not in headers


def test_a_kept_compressed_form_has_its_coding_etag_and_no_ranges(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.css", CSS)
    form = CompressedForms().find(path, os.stat(path), BROTLI)
    assert form is not None and not isinstance(form, str)
    entities = StaticEntities()
    entity = entities.kept(path, form, "text/css", POLICY, BROTLI)
    assert entity is not None and entity.body == form.body
    headers = header_table(entity)
    assert headers[b"content-encoding"] == b"br"
    assert headers[b"etag"].endswith(b'-br"')
    assert headers[b"content-length"] == b"%d" % len(form.body)
    assert b"accept-ranges" not in headers
    assert entities.kept(path, form, "text/css", POLICY, BROTLI) is entity


def test_a_sibling_is_kept_as_its_coding(tmp_path: Path) -> None:
    sibling = _file(tmp_path / "a.css.gz", b"\x1f\x8b pretend gzip")
    entity = StaticEntities().file(sibling, "text/css", POLICY, GZIP)
    assert entity is not None
    headers = header_table(entity)
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"etag"].endswith(b'-gz"')
    assert headers[b"content-type"] == b"text/css"


def test_a_file_changed_within_the_last_second_is_not_kept(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.css", CSS, mtime=time.time())
    assert StaticEntities().file(path, "text/css", POLICY) is None
    form = CompressedForms().find(path, os.stat(path), GZIP)
    assert form is not None and not isinstance(form, str)
    assert StaticEntities().kept(path, form, "text/css", POLICY, GZIP) is None
