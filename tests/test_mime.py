"""Content-Type from file names and extensions (krait._mime)."""

from __future__ import annotations

import pytest

from krait._mime import DEFAULT_TYPE, content_type_for, content_type_for_ext, is_text_type


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("old/page.htm", "text/html; charset=utf-8"),
        ("css/bootstrap.min.css", "text/css; charset=utf-8"),
        ("js/app.js", "text/javascript; charset=utf-8"),
        ("js/module.mjs", "text/javascript; charset=utf-8"),
        ("js/common.cjs", "text/javascript; charset=utf-8"),
        ("api/data.json", "application/json; charset=utf-8"),
        ("js/app.js.map", "application/json; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("README.md", "text/markdown; charset=utf-8"),
        ("table.csv", "text/csv; charset=utf-8"),
        ("feed.xml", "application/xml; charset=utf-8"),
        ("logo.svg", "image/svg+xml; charset=utf-8"),
        ("site.webmanifest", "application/manifest+json; charset=utf-8"),
        ("schema.jsonld", "application/ld+json; charset=utf-8"),
        ("feed.rss", "application/rss+xml; charset=utf-8"),
        ("feed.atom", "application/atom+xml; charset=utf-8"),
        ("event.ics", "text/calendar; charset=utf-8"),
        ("conf.yaml", "application/yaml; charset=utf-8"),
        ("conf.yml", "application/yaml; charset=utf-8"),
        ("pyproject.toml", "application/toml; charset=utf-8"),
        ("tool.py", "text/x-python; charset=utf-8"),
        ("photo.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("photo.jpeg", "image/jpeg"),
        ("anim.gif", "image/gif"),
        ("photo.webp", "image/webp"),
        ("photo.avif", "image/avif"),
        ("favicon.ico", "image/vnd.microsoft.icon"),
        ("scan.tiff", "image/tiff"),
        ("scan.tif", "image/tiff"),
        ("fonts/a.woff", "font/woff"),
        ("fonts/a.woff2", "font/woff2"),
        ("fonts/a.ttf", "font/ttf"),
        ("fonts/a.otf", "font/otf"),
        ("fonts/a.eot", "application/vnd.ms-fontobject"),
        ("app.wasm", "application/wasm"),
        ("paper.pdf", "application/pdf"),
        ("bundle.zip", "application/zip"),
        ("bundle.tar.gz", "application/gzip"),
        ("bundle.tar", "application/x-tar"),
        ("bundle.7z", "application/x-7z-compressed"),
        ("song.mp3", "audio/mpeg"),
        ("song.flac", "audio/flac"),
        ("clip.mp4", "video/mp4"),
        ("clip.webm", "video/webm"),
        ("clip.ogv", "video/ogg"),
        ("book.epub", "application/epub+zip"),
        ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_content_type_follows_the_extension(path: str, expected: str) -> None:
    assert content_type_for(path) == expected


def test_extension_case_does_not_matter() -> None:
    assert content_type_for("PHOTO.JPG") == "image/jpeg"
    assert content_type_for("Index.HTML") == "text/html; charset=utf-8"


def test_unknown_extension_is_octet_stream() -> None:
    assert content_type_for("archive.unknownext") == DEFAULT_TYPE == "application/octet-stream"


def test_name_without_extension_is_octet_stream() -> None:
    assert content_type_for("db") == "application/octet-stream"
    assert content_type_for("docs/v1.2/changelog") == "application/octet-stream"


def test_leading_dot_alone_is_not_an_extension() -> None:
    assert content_type_for("site/.json") == "application/octet-stream"


def test_pyml_template_is_typed_by_its_inner_extension() -> None:
    assert content_type_for("stats.json.pyml") == "application/json; charset=utf-8"
    assert content_type_for(".view/page.html.pyml") == "text/html; charset=utf-8"
    assert content_type_for("feed.XML.PYML") == "application/xml; charset=utf-8"


def test_bare_pyml_template_is_octet_stream() -> None:
    assert content_type_for("page.pyml") == "application/octet-stream"
    assert content_type_for("page.pyml.pyml") == "application/octet-stream"


def test_extension_lookup_matches_path_lookup() -> None:
    assert content_type_for_ext("json") == "application/json; charset=utf-8"
    assert content_type_for_ext("HTML") == "text/html; charset=utf-8"
    assert content_type_for_ext("png") == "image/png"


def test_unknown_extension_lookup_is_octet_stream() -> None:
    assert content_type_for_ext("nope") == "application/octet-stream"
    assert content_type_for_ext("") == "application/octet-stream"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "text/plain; charset=latin-1",
        "application/json",
        "Application/JSON",
        "application/javascript",
        "application/xml",
        "image/svg+xml",
        "application/vnd.api+json",
    ],
)
def test_textual_types_are_text(content_type: str) -> None:
    assert is_text_type(content_type)


@pytest.mark.parametrize(
    "content_type", ["image/png", "application/octet-stream", "font/woff2", "video/mp4", ""]
)
def test_binary_types_are_not_text(content_type: str) -> None:
    assert not is_text_type(content_type)
