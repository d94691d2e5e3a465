"""Path decoding and URL → file resolution (spec §1.2, §3.1, krait's decisions Kept 2-4)."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krait._errors import BadRequestPath, TargetNotFound
from krait._targets import (
    ResolvedTarget,
    TargetKind,
    cache_key,
    decode_path,
    is_hidden_component,
    is_source_leftover,
    kind_for,
    resolve_target,
    resolve_view,
)

SITE_FILES = [
    "index.html",
    "login.html",
    "x",
    "x.html",
    "old.htm",
    "new.html",
    "both.html",
    "both.htm",
    "data.json",
    "script.py",
    "css/style.css",
    "a/b.txt",
    "p1.html",
    "p1.htm",
    "p1.pyml",
    "p1.py",
    "p2.htm",
    "p2.pyml",
    "p2.py",
    "p3.pyml",
    "p3.py",
    "p4.py",
    "idx/bare/index",
    "idx/bare/index.html",
    "idx/html/index.html",
    "idx/html/index.htm",
    "idx/html/index.py",
    "idx/htm/index.htm",
    "idx/htm/index.pyml",
    "idx/pyml/index.pyml",
    "idx/pyml/index.py",
    "idx/py/index.py",
    "idx/nested/index/index.html",
    ".py/init.py",
    ".private/db.sqlite",
    ".private/x",
    ".git/config",
    ".env",
    ".htaccess",
    ".view/index.html",
]

SYMLINKS = {
    "link-out": "../outside",
    "link-file": "../secret.txt",
    "ok-link": ".private/x",
    "ok-dir-link": ".private",
    "link-in": "css/style.css",
    "source.txt": "script.py",
    "link-loop": "link-loop",
}


def build_site(parent: Path) -> Path:
    """Create a site under ``parent/site`` with protected files beside and inside it."""
    parent.mkdir(parents=True, exist_ok=True)
    (parent / "secret.txt").write_text("outside secret")
    (parent / "outside").mkdir()
    (parent / "outside" / "secret.txt").write_text("outside secret")
    (parent / "outside" / "index.html").write_text("outside index")
    site = parent / "site"
    site.mkdir()
    for name in SITE_FILES:
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (site / "empty").mkdir()
    for name, points_to in SYMLINKS.items():
        (site / name).symlink_to(points_to)
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("targets"))


def served(site: Path, target: str) -> str:
    """The site-relative real path of the file that ``target`` serves."""
    return os.path.relpath(resolve_target(str(site), target).path, os.path.realpath(site))


def assert_safe(site: Path, resolved: ResolvedTarget) -> None:
    real_root = os.path.realpath(site)
    assert resolved.path.startswith(real_root + os.sep)
    below = os.path.relpath(resolved.path, real_root).split(os.sep)
    assert not any(is_hidden_component(part) for part in below)


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b"/", "/"),
        (b"/a%20b", "/a b"),
        (b"/a+b", "/a+b"),
        (b"/%252e%252e", "/%2e%2e"),
        (b"/caf%C3%A9", "/café"),
        (b"/caf\xc3\xa9", "/café"),
        (b"/%2fetc", "//etc"),
        (b"/a%3Fb", "/a?b"),
    ],
)
def test_decode_path_decodes_percent_escapes_once(raw: bytes, decoded: str) -> None:
    assert decode_path(raw) == decoded


@pytest.mark.parametrize(
    "raw",
    [
        b"/%zz",
        b"/%4",
        b"/%",
        b"/a%g1",
        b"/%%41",
        b"/%u002e",
        b"/% 1",
        b"/%c0%ae",
        b"/%e0%80%ae",
        b"/%ed%a0%80",
        b"/\xff",
        b"/%ff",
        b"/%00",
        b"/a\x00b",
        b"/%09",
        b"/a%0d%0aSet-Cookie:x",
        b"/%1f",
        b"/%7f",
    ],
)
def test_decode_path_rejects_malformed_or_unsafe_paths(raw: bytes) -> None:
    with pytest.raises(BadRequestPath):
        decode_path(raw)


@given(st.text(st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="\x7f")))
def test_decode_path_undoes_percent_encoding(text: str) -> None:
    assert decode_path(urllib.parse.quote(text, safe="/").encode("ascii")) == text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("index.html", TargetKind.TEMPLATE),
        ("old.htm", TargetKind.TEMPLATE),
        ("feed.json.pyml", TargetKind.TEMPLATE),
        ("script.py", TargetKind.SCRIPT),
        ("style.css", TargetKind.STATIC),
        ("data.json", TargetKind.STATIC),
        ("index", TargetKind.STATIC),
        ("script.pyc", TargetKind.STATIC),
        ("dir.py/file", TargetKind.STATIC),
    ],
)
def test_kind_follows_the_extension(name: str, kind: TargetKind) -> None:
    assert kind_for(name) is kind


@pytest.mark.parametrize("name", ["script.PY", "script.Py", "page.HTML", "page.Pyml"])
def test_kind_ignores_extension_case_so_scripts_never_leak_as_source(name: str) -> None:
    assert kind_for(name) is not TargetKind.STATIC


@pytest.mark.parametrize(
    ("name", "hidden"),
    [(".py", True), ("..", True), ("...", True), (".env", True), (".", False), ("a.b", False)],
)
def test_hidden_components_are_longer_than_one_char_and_start_with_a_dot(
    name: str, hidden: bool
) -> None:
    assert is_hidden_component(name) is hidden


@pytest.mark.parametrize(
    "name",
    [
        "hello.py~",
        "hello.py.bak",
        "hello.py.orig",
        "hello.py.swp",
        "index.html~",
        "HELLO.PY.BAK",
        "#hello.py#",
        "__pycache__",
        "hello.cpython-311.pyc",
        "hello.pyo",
        "hello.py.",
        "hello.py ",
        "hello.PY. .",
        "hello.py::$DATA",
        "hello.py:stream",
        "hello.pyc::$DATA",
    ],
)
def test_backups_bytecode_and_windows_aliases_of_sources_are_leftovers(name: str) -> None:
    assert is_source_leftover(name)


@pytest.mark.parametrize(
    "name",
    ["hello.py", "index.html", "a~b.txt", "#notes", "c#", "bakery.txt", "time:12.html", "readme."],
)
def test_ordinary_names_are_not_leftovers(name: str) -> None:
    assert not is_source_leftover(name)


def test_leftovers_are_not_found_even_through_a_symlink(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "__pycache__").mkdir(parents=True)
    (site / "hello.py~").write_text("source")
    (site / "__pycache__" / "hello.cpython-311.pyc").write_bytes(b"bytecode")
    os.symlink("hello.py~", site / "innocent.txt")
    for target in ("/hello.py~", "/__pycache__/hello.cpython-311.pyc", "/innocent.txt"):
        with pytest.raises(TargetNotFound, match=r"never served|copy of source code"):
            resolve_target(str(site), target)


@pytest.mark.parametrize(
    ("target", "key"),
    [("/", "."), ("", "."), ("/db", "db"), ("//css/x.css", "css/x.css"), ("/a/./b", "a/b")],
)
def test_cache_key_is_the_normalised_target_without_leading_slashes(target: str, key: str) -> None:
    assert cache_key(target) == key


@pytest.mark.parametrize(
    ("target", "file"),
    [
        ("/", "index.html"),
        ("", "index.html"),
        ("/index.html", "index.html"),
        ("/login", "login.html"),
        ("/data.json", "data.json"),
        ("/css/style.css", "css/style.css"),
        ("//css//style.css", "css/style.css"),
        ("/css/./style.css", "css/style.css"),
        ("/x", "x"),
    ],
)
def test_targets_resolve_to_files_under_the_root(site: Path, target: str, file: str) -> None:
    assert served(site, target) == file


@pytest.mark.parametrize(
    ("directory", "file"),
    [
        ("/idx/bare", "idx/bare/index"),
        ("/idx/html/", "idx/html/index.html"),
        ("/idx/htm", "idx/htm/index.htm"),
        ("/idx/pyml", "idx/pyml/index.pyml"),
        ("/idx/py", "idx/py/index.py"),
    ],
)
def test_directories_probe_index_then_index_with_extensions(
    site: Path, directory: str, file: str
) -> None:
    assert served(site, directory) == file


@pytest.mark.parametrize(
    ("target", "file"),
    [("/p1", "p1.html"), ("/p2", "p2.htm"), ("/p3", "p3.pyml"), ("/p4", "p4.py")],
)
def test_missing_files_probe_html_htm_pyml_py_in_order(site: Path, target: str, file: str) -> None:
    assert served(site, target) == file


def test_missing_html_falls_back_to_htm_and_vice_versa(site: Path) -> None:
    assert served(site, "/old.html") == "old.htm"
    assert served(site, "/new.htm") == "new.html"


def test_existing_html_or_htm_is_served_as_named(site: Path) -> None:
    assert served(site, "/both.html") == "both.html"
    assert served(site, "/both.htm") == "both.htm"


def test_resolved_target_reports_relative_name_and_kind(site: Path) -> None:
    resolved = resolve_target(str(site), "/login")
    assert resolved.relative == "login.html"
    assert resolved.kind is TargetKind.TEMPLATE
    assert resolve_target(str(site), "/").relative == "index.html"
    assert resolve_target(str(site), "/data.json").kind is TargetKind.STATIC


def test_python_files_are_scripts_never_sources(site: Path) -> None:
    assert resolve_target(str(site), "/script.py").kind is TargetKind.SCRIPT
    assert resolve_target(str(site), "/script").kind is TargetKind.SCRIPT


def test_a_symlink_to_a_script_still_runs_it(site: Path) -> None:
    resolved = resolve_target(str(site), "/source.txt")
    assert resolved.kind is TargetKind.SCRIPT
    assert resolved.relative == "source.txt"


def test_symlinks_inside_the_root_are_followed(site: Path) -> None:
    resolved = resolve_target(str(site), "/link-in")
    assert resolved.path == os.path.realpath(site / "css" / "style.css")
    assert resolved.relative == "link-in"


@pytest.mark.parametrize(
    "target",
    [
        "/missing",
        "/empty",
        "/empty/",
        "/login/",
        "/x/",
        "/script.py/",
        "/script.py/.",
        "/css/style.css/x",
        "/link-loop",
        "/idx/nested",
        "/" + "a" * 300,
    ],
)
def test_targets_naming_no_regular_file_are_not_found(site: Path, target: str) -> None:
    with pytest.raises(TargetNotFound):
        resolve_target(str(site), target)


def test_a_relative_site_root_works(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(site.parent)
    resolved = resolve_target("site", "/login")
    assert resolved.path == os.path.realpath(site / "login.html")
    with pytest.raises(TargetNotFound):
        resolve_target("site", "/link-file")


def test_a_site_root_under_a_dot_directory_still_serves(tmp_path: Path) -> None:
    site = build_site(tmp_path / ".hidden")
    assert served(site, "/login") == "login.html"
    with pytest.raises(TargetNotFound):
        resolve_target(str(site), "/.env")


def test_a_symlinked_site_root_works(site: Path, tmp_path: Path) -> None:
    (tmp_path / "root-link").symlink_to(site)
    resolved = resolve_target(str(tmp_path / "root-link"), "/css/style.css")
    assert resolved.path == os.path.realpath(site / "css" / "style.css")
    with pytest.raises(TargetNotFound):
        resolve_target(str(tmp_path / "root-link"), "/link-out/secret.txt")


ATTACKS = [
    b"/../secret.txt",
    b"/..%2fsecret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2e%2e%2fsecret.txt",
    b"/%252e%252e/secret.txt",
    b"/%252e%252e%252fsecret.txt",
    b"/..%252f..%252fsecret.txt",
    b"/..\\secret.txt",
    b"/..%5csecret.txt",
    b"/%5c..%5csecret.txt",
    b"/%00",
    b"/index.html%00.txt",
    b"/.%00./secret.txt",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%e0%80%ae",
    b"/%c0%af",
    b"/%ed%a0%80",
    b"//etc/passwd",
    b"/%2fetc%2fpasswd",
    b"/%2f%2e%2e%2fsecret.txt",
    b"/.py/init.py",
    b"/.py/",
    b"/.py",
    b"/.py%2finit.py",
    b"/.PY/init.py",
    b"/.private/db.sqlite",
    b"/.private/x",
    b"/.git/config",
    b"/.git",
    b"/.env",
    b"/.htaccess",
    b"/css/../.py/init.py",
    b"/css/%2e%2e/%2e%2e/secret.txt",
    b"/css/..%2f..%2fsecret.txt",
    b"/link-out/secret.txt",
    b"/link-out/",
    b"/link-out",
    b"/link-file",
    b"/ok-link",
    b"/ok-dir-link/db.sqlite",
    b"/ok-dir-link/",
    b"/.view/index.html",
    b"/./.py/init.py",
    b"/a/./../../secret.txt",
    b"/a/b.txt/../../secret.txt",
    b"/%2e/%2e%2e/secret.txt",
    b"/...",
    b"/..../secret.txt",
    b"/.%2e/secret.txt",
    b"/%2e./secret.txt",
    b"/%2E%2E/secret.txt",
    b"/x/..;/secret.txt",
    b"/script.py/.",
    b"/script.py/",
    b"/index.html/",
    b"/%ef%bc%8e%ef%bc%8e/secret.txt",
    b"/secret.txt%0a",
    b"/%u002e%u002e/secret.txt",
    b"/%%32%65%%32%65/secret.txt",
    b"/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
]


@pytest.mark.parametrize("raw", ATTACKS, ids=[raw.decode("latin-1") for raw in ATTACKS])
def test_attack_paths_are_refused(site: Path, raw: bytes) -> None:
    with pytest.raises((BadRequestPath, TargetNotFound)):
        resolve_target(str(site), decode_path(raw))


def test_attack_corpus_is_large_enough() -> None:
    assert len(ATTACKS) >= 30


TARGET_PARTS = st.sampled_from(
    [
        "",
        ".",
        "..",
        "...",
        ".py",
        ".private",
        ".view",
        "css",
        "a",
        "x",
        "link-out",
        "link-file",
        "ok-link",
        "ok-dir-link",
        "secret.txt",
        "index.html",
        "init.py",
        "db.sqlite",
        "script.py",
        "outside",
        "site",
        "etc",
        "passwd",
    ]
)


@given(st.lists(TARGET_PARTS, max_size=8).map("/".join))
def test_no_target_reaches_outside_or_hidden_files(site: Path, target: str) -> None:
    try:
        resolved = resolve_target(str(site), target)
    except TargetNotFound:
        return
    assert_safe(site, resolved)


@given(st.binary(max_size=40).map(lambda data: b"/" + data))
def test_no_raw_path_reaches_outside_or_hidden_files(site: Path, raw: bytes) -> None:
    try:
        resolved = resolve_target(str(site), decode_path(raw))
    except (BadRequestPath, TargetNotFound):
        return
    assert_safe(site, resolved)


def test_views_may_live_in_hidden_directories(site: Path) -> None:
    expected = os.path.realpath(site / ".view" / "index.html")
    assert resolve_view(str(site), ".view/index.html") == expected
    assert resolve_view(str(site), "/.view/index.html") == expected


def test_an_absolute_view_inside_the_root_is_accepted(site: Path) -> None:
    path = str(site / ".view" / "index.html")
    assert resolve_view(str(site), path) == os.path.realpath(path)


@pytest.mark.parametrize(
    "view",
    [
        ".view/missing.html",
        ".view",
        ".view/index",
        "../secret.txt",
        ".view/../../secret.txt",
        "link-file",
        "link-out/index.html",
        "/etc/passwd",
        ".view/index.html\x00",
    ],
)
def test_views_outside_the_root_or_missing_are_not_found(site: Path, view: str) -> None:
    with pytest.raises(TargetNotFound):
        resolve_view(str(site), view)
