"""The site's own error pages, as plain values: ``krait.config.error_pages`` checked at
start-up (a wrong shape stops the site naming the line, a missing file warns) and which
clients get them (those that accept HTML)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_site

from krait._error_pages import accepts_html, check_error_pages
from krait._errors import SiteConfigError
from krait._site import load_site


def site_with(tmp_path: Path, setting: str, files: dict[str, str | bytes] | None = None) -> Path:
    init = f"import krait\nkrait.config.routes = []\nkrait.config.error_pages = {setting}\n"
    return write_site(tmp_path / "site", {".py/init.py": init, **(files or {})})


def test_error_pages_are_resolved_to_real_paths_of_the_site(tmp_path: Path) -> None:
    site = site_with(
        tmp_path,
        '{404: ".view/404.html", 500: "errors/500.pyml"}',
        {".view/404.html": "gone", "errors/500.pyml": "broken"},
    )
    config = load_site(str(site))
    assert config.error_pages == {
        404: str((site / ".view/404.html").resolve()),
        500: str((site / "errors/500.pyml").resolve()),
    }
    assert config.warnings == ()


def test_a_site_without_error_pages_has_none(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {".py/init.py": "x = 1\n"})
    assert load_site(str(site)).error_pages == {}


@pytest.mark.parametrize(
    ("setting", "names"),
    [
        ('{"404": "a.html"}', "'404'"),
        ('{403: "a.html"}', "403"),
        ("{True: 'a.html'}", "True"),
        ("{404: None}", "None"),
        ('[".view/404.html"]', "must be a dict"),
    ],
)
def test_a_wrong_error_pages_setting_stops_the_site_naming_the_line(
    tmp_path: Path, setting: str, names: str
) -> None:
    site = site_with(tmp_path, setting, {"a.html": "x"})
    with pytest.raises(SiteConfigError) as raised:
        load_site(str(site))
    assert raised.value.line == 3
    assert raised.value.filename is not None and raised.value.filename.endswith("init.py")
    assert names in str(raised.value)
    assert "fix:" in str(raised.value)


def test_an_error_page_that_is_no_file_warns_and_is_left_out(tmp_path: Path) -> None:
    site = site_with(tmp_path, '{404: ".view/missing.html"}')
    config = load_site(str(site))
    assert config.error_pages == {}
    [warning] = config.warnings
    assert warning.line == 3
    assert "'.view/missing.html'" in str(warning)
    assert "krait's own 404 page is sent instead" in str(warning)


def test_an_item_assignment_is_the_line_named(tmp_path: Path) -> None:
    init = 'import krait\n\nkrait.config.error_pages[500] = "nope.html"\n'
    site = write_site(tmp_path / "site", {".py/init.py": init})
    [warning] = load_site(str(site)).warnings
    assert warning.line == 3


def test_check_error_pages_accepts_none_as_no_pages(tmp_path: Path) -> None:
    assert check_error_pages(None, str(tmp_path), str(tmp_path / "init.py")) == ({}, [])


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "*/*",
        "text/html",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "application/json, text/*;q=0.1",
        "TEXT/HTML",
    ],
)
def test_browsers_and_clients_without_preference_accept_html(accept: str) -> None:
    assert accepts_html(accept)


@pytest.mark.parametrize(
    "accept",
    ["application/json", "text/plain", "text/html;q=0, application/json", "image/*"],
)
def test_clients_that_ask_for_other_types_do_not_accept_html(accept: str) -> None:
    assert not accepts_html(accept)
