"""Route dispatch in process: what the root answers by itself, in one error format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import write_site
from shell import header, make_request
from twisted.internet.task import Clock

from krait import _dispatch
from krait._dispatch import KraitRoot, origin_path
from krait._pages import PageJob
from krait._site import load_site
from krait._workers import WorkerPool

INIT = """\
from krait.config import Route
import krait

krait.config.routes = [
    Route(url="/page", target="page.txt"),
    Route("POST", url="/form", target="page.txt"),
    Route("WEBSOCKET", url="/ws", target="ws.py"),
]
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KraitRoot]:
    site = write_site(
        tmp_path_factory.mktemp("dispatch"),
        {".py/init.py": INIT, "page.txt": "a page\n", "ws.py": "pass\n"},
    )
    yield KraitRoot(load_site(str(site)), WorkerPool(Clock(), 1, "dispatch-test"))


def test_an_unknown_path_is_a_404_html_page(root: KraitRoot) -> None:
    request = make_request(uri=b"/nowhere")
    body = root.render(request)
    assert request.code == 404
    assert header(request, b"content-type") == b"text/html; charset=utf-8"
    assert isinstance(body, bytes)
    assert b"<h1>404 Not Found</h1>" in body


def test_a_method_the_route_does_not_take_is_a_405_with_allow(root: KraitRoot) -> None:
    request = make_request(b"DELETE", b"/form")
    body = root.render(request)
    assert request.code == 405
    assert header(request, b"allow") == b"OPTIONS, POST"
    assert isinstance(body, bytes)
    assert b"<h1>405 Method Not Allowed</h1>" in body


def test_options_is_answered_with_allow_and_no_body(root: KraitRoot) -> None:
    request = make_request(b"OPTIONS", b"/form")
    root.render(request)
    assert request.code == 204
    assert header(request, b"allow") == b"OPTIONS, POST"
    assert header(request, b"content-length") is None


def test_options_star_lists_every_method(root: KraitRoot) -> None:
    request = make_request(b"OPTIONS", b"*")
    root.render(request)
    assert request.code == 204
    assert (header(request, b"allow") or b"").startswith(b"GET, HEAD, POST")


def test_a_websocket_route_asked_without_upgrade_is_a_426(root: KraitRoot) -> None:
    request = make_request(uri=b"/ws")
    body = root.render(request)
    assert request.code == 426
    assert header(request, b"upgrade") == b"websocket"
    assert isinstance(body, bytes)
    assert b"<h1>426 Upgrade Required</h1>" in body


def test_an_undecodable_path_is_a_400_in_the_same_format(root: KraitRoot) -> None:
    request = make_request(uri=b"/%ff")
    body = root.render(request)
    assert request.code == 400
    assert isinstance(body, bytes)
    assert b"<h1>400 Bad Request</h1>" in body


def test_a_static_route_target_is_served_without_the_pool(root: KraitRoot) -> None:
    request = make_request(uri=b"/page")
    assert root.render(request) == b"a page\n"


@pytest.mark.parametrize(
    ("target", "path"),
    [(b"/a/b", b"/a/b"), (b"http://host/a", b"/a"), (b"HTTPS://host", b"/"), (b"a", None)],
)
def test_origin_path_reduces_absolute_form_and_refuses_the_rest(
    target: bytes, path: bytes | None
) -> None:
    assert origin_path(make_request(uri=target)) == path


@pytest.mark.parametrize("target", [b"/page", b"/pa%67e", b"http://host/page"])
def test_a_target_asked_again_is_answered_as_the_first_time(root: KraitRoot, target: bytes) -> None:
    answers = [root.render(make_request(uri=target)) for _ in range(2)]
    assert answers == [b"a page\n", b"a page\n"]


@pytest.mark.parametrize("target", [b"/%ff", b"a"])
def test_a_refused_target_is_refused_again(root: KraitRoot, target: bytes) -> None:
    for _ in range(2):
        request = make_request(uri=target)
        root.render(request)
        assert request.code == 400


def fresh_root(site: Path) -> KraitRoot:
    return KraitRoot(load_site(str(site)), WorkerPool(Clock(), 1, "dispatch-test"))


def test_a_resolution_is_reused_for_a_second_then_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(_dispatch, "time", SimpleNamespace(monotonic=lambda: now[0]))
    root = fresh_root(write_site(tmp_path, {"x.py": "return 'script'\n"}))
    jobs: list[Any] = []
    monkeypatch.setattr(root.guard, "run", lambda *args: jobs.append(args[3]))
    root.render(make_request(uri=b"/x"))
    (tmp_path / "x").write_text("file\n")  # the exact name wins over x.py
    now[0] += _dispatch.RESOLUTION_TTL / 2
    root.render(make_request(uri=b"/x"))
    now[0] += _dispatch.RESOLUTION_TTL
    assert root.render(make_request(uri=b"/x")) == b"file\n"
    scripts = [next(arg for arg in args if isinstance(arg, PageJob)) for args in jobs]
    assert [job.path for job in scripts] == [str((tmp_path / "x.py").resolve())] * 2
    assert scripts[0] is scripts[1]  # one job object per script


def test_a_missing_target_is_found_as_soon_as_it_exists(tmp_path: Path) -> None:
    root = fresh_root(write_site(tmp_path, {"index.txt": "home\n"}))
    request = make_request(uri=b"/later.txt")
    root.render(request)
    assert request.code == 404
    (tmp_path / "later.txt").write_text("here\n")
    assert root.render(make_request(uri=b"/later.txt")) == b"here\n"


def test_the_log_names_a_page_by_its_path_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init = "from krait.config import Route\nimport krait\n\nkrait.config.routes = [\n"
    init += '    Route(url="/alias", target="x.py"),\n    Route(),\n]\n'
    site = write_site(tmp_path, {".py/init.py": init, "x.py": "return 'x'\n"})
    root = fresh_root(site)
    labels: list[str] = []
    monkeypatch.setattr(root.guard, "run", lambda *args: labels.append(args[1]))
    for uri in (b"/x", b"/x", b"/alias", b"/alias"):
        root.render(make_request(uri=uri))
    script = str((site / "x.py").resolve())
    assert labels == [f"/x ({script})"] * 2 + [f"/alias ({script})"] * 2
