"""What ``--reload`` does with each changed file, and the line it logs (plain values)."""

from __future__ import annotations

import pytest

from krait._watch_rules import ChangeKind, change_kind, change_line, shown_path

ROOT = "/srv/site"


@pytest.mark.parametrize(
    "path",
    [
        "/srv/site/.py/init.py",
        "/srv/site/.py/ctrls/home.py",
        "/srv/site/.py/helpers.py",
        "/srv/site/page.py",
        "/srv/site/api/v1/users.py",
    ],
)
def test_python_code_anywhere_in_the_site_restarts(path: str) -> None:
    assert change_kind(path, ROOT) is ChangeKind.RESTART


@pytest.mark.parametrize(
    "path",
    [
        "/srv/site/index.pyml",
        "/srv/site/.view/home.html",
        "/srv/site/about.HTM",
        "/srv/site/.view/table.j2",
        "/srv/site/.view/list.jinja",
    ],
)
def test_templates_are_read_again_without_a_restart(path: str) -> None:
    assert change_kind(path, ROOT) is ChangeKind.REREAD


@pytest.mark.parametrize(
    "path",
    [
        "/srv/site/.py/__pycache__/init.cpython-311.pyc",
        "/srv/site/.py/__pycache__/stale.py",
        "/srv/site/.git/hooks/pre-commit.py",
        "/srv/site/.venv/lib/site.py",
        "/srv/site/node_modules/x/index.html",
        "/srv/site/.py/.init.py.swp",
        "/srv/site/.py/init.py~",
        "/srv/site/.py/.#init.py",
        "/srv/site/.py/#init.py#",
        "/srv/site/.py/init.py___jb_tmp___",
        "/srv/site/.py/4913",
        "/srv/site/page.py.tmp",
        "/srv/site/css/site.css",
        "/srv/site/data/guestbook.sqlite",
        "/srv/site/access.log",
        "/elsewhere/init.py",
    ],
)
def test_caches_editor_files_data_and_files_outside_trigger_nothing(path: str) -> None:
    assert change_kind(path, ROOT) is None


def test_a_shown_path_starts_with_the_site_folder_as_given() -> None:
    assert shown_path("/srv/site/.py/init.py", ROOT, "site") == "site/.py/init.py"
    assert shown_path("/srv/site/a.py", ROOT, "./site/") == "site/a.py"
    assert shown_path("/srv/site/a.py", ROOT, "/srv/site") == "/srv/site/a.py"


def test_a_restart_line_names_the_changed_file() -> None:
    line = change_line(ChangeKind.RESTART, ["site_demo/.py/init.py"])
    assert line == "reloading (site_demo/.py/init.py changed)"


def test_a_reread_line_says_nothing_restarts() -> None:
    line = change_line(ChangeKind.REREAD, ["site/.view/home.html"])
    assert line == "site/.view/home.html changed: read again on its next request, no restart"


def test_a_batch_is_named_in_order_and_counted_past_three_files() -> None:
    line = change_line(ChangeKind.RESTART, ["e.py", "b.py", "a.py", "d.py", "c.py", "a.py"])
    assert line == "reloading (a.py, b.py, c.py and 2 more changed)"
