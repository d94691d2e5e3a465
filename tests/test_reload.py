"""``--reload`` end to end: real processes, real files edited on disk, real HTTP.

Every test starts ``python -m krait SITE --reload`` (or ``twistd -n krait``) on 127.0.0.1,
edits a file of the site, and polls until the answer changes, with a deadline.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from conftest import REPO, Server, write_site

DEADLINE = 45.0
"""Seconds an edit may take to show: a new worker loads the site on a busy machine."""

SITE = {
    ".py/init.py": (
        "import greeting\n"
        "from shop import ShopCtrl\n"
        "krait.config.routes = [\n"
        "    krait.config.Route('GET', url='/shop', ctrl_class=ShopCtrl),\n"
        "    krait.config.Route('GET', url='/init', target='init.py'),\n"
        "    krait.config.Route(),\n"
        "]\n"
        "INIT_TEXT = 'init v1'\n"
        "import builtins\n"
        "builtins.INIT_TEXT = INIT_TEXT\n"
    ),
    ".py/greeting.py": "TEXT = 'module v1'\n",
    ".py/shop.py": (
        "import krait.mvc\n"
        "class ShopCtrl(krait.mvc.CtrlBase):\n"
        "    def __init__(self):\n"
        "        self.item = 'ctrl v1'\n"
        "    def get_view(self):\n"
        "        return '.view/shop.html'\n"
    ),
    ".view/shop.html": "@ctrl.item",
    "hello.py": "import greeting\nreturn greeting.TEXT\n",
    "init.py": "return INIT_TEXT\n",
    "script.py": "return 'script v1'\n",
    "pid.py": "import os\nreturn str(os.getpid())\n",
    "page.pyml": "<b>template v1</b> @(__import__('os').getpid())",
}
"""``/hello`` shows a module under ``.py/``, ``/shop`` a controller, ``/init`` a value of
init.py, ``/script`` a page script and ``/page`` a template with the worker's pid."""


def get(url: str) -> requests.Response:
    """GET over a fresh connection (the next one may meet a new worker)."""
    return requests.get(url, timeout=30, headers={"Connection": "close"})


def answer_becomes(url: str, want: Callable[[requests.Response], bool]) -> requests.Response:
    """Fetch ``url`` until ``want`` holds for the answer; fail after :data:`DEADLINE`."""
    deadline = time.monotonic() + DEADLINE
    while True:
        response = get(url)
        if want(response):
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} still answers {response.status_code} {response.text!r}")
        time.sleep(0.05)


def text_becomes(url: str, text: str) -> requests.Response:
    return answer_becomes(url, lambda r: r.status_code == 200 and text in r.text)


def reload_lines(server: Server) -> list[str]:
    """The reload lines of the log (``twistd -n`` logs to standard output)."""
    log = server.stdout() + server.stderr()
    return [line for line in log.splitlines() if "reloading (" in line]


def reload_lines_after(server: Server, count: int) -> list[str]:
    """The reload lines once there are ``count`` of them (or more; or the deadline passed)."""
    deadline = time.monotonic() + DEADLINE
    while len(lines := reload_lines(server)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return lines


def log_shows(server: Server, text: str) -> bool:
    """Whether ``text`` appears in the server log within the deadline."""
    deadline = time.monotonic() + DEADLINE
    while text not in server.stderr():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_site(tmp_path / "site", SITE)


@pytest.fixture
def reloading(serve: Callable[..., Server], site: Path) -> Server:
    server = serve(site, "--reload")
    text_becomes(server.url + "/hello", "module v1")
    return server


def test_an_edited_module_under_dot_py_is_served_after_one_reload_line(
    reloading: Server, site: Path
) -> None:
    edit(site / ".py" / "greeting.py", "v1", "v2")
    text_becomes(reloading.url + "/hello", "module v2")
    lines = reload_lines(reloading)
    assert len(lines) == 1
    assert lines[0].endswith(f"reloading ({site / '.py' / 'greeting.py'} changed)")


def test_an_edited_controller_module_is_served(reloading: Server, site: Path) -> None:
    text_becomes(reloading.url + "/shop", "ctrl v1")
    edit(site / ".py" / "shop.py", "ctrl v1", "ctrl v2")
    text_becomes(reloading.url + "/shop", "ctrl v2")
    assert len(reload_lines(reloading)) == 1


def test_an_edited_init_py_is_run_again(reloading: Server, site: Path) -> None:
    text_becomes(reloading.url + "/init", "init v1")
    edit(site / ".py" / "init.py", "init v1", "init v2")
    text_becomes(reloading.url + "/init", "init v2")
    assert len(reload_lines(reloading)) == 1


def test_each_save_logs_one_reload_line(reloading: Server, site: Path) -> None:
    for version in range(2, 5):
        edit(site / "script.py", f"script v{version - 1}", f"script v{version}")
        # The old worker may show the new script first: it compiles a changed script again.
        text_becomes(reloading.url + "/script", f"script v{version}")
        assert len(reload_lines_after(reloading, version - 1)) == version - 1
    assert all(line.endswith(f"({site / 'script.py'} changed)") for line in reload_lines(reloading))


def test_an_edited_template_is_read_again_without_a_restart(reloading: Server, site: Path) -> None:
    before = text_becomes(reloading.url + "/page", "template v1").text.split()[-1]
    edit(site / "page.pyml", "template v1", "template v2")
    after = text_becomes(reloading.url + "/page", "template v2").text.split()[-1]
    assert after == before  # the same process
    notice = f"{site / 'page.pyml'} changed: read again on its next request, no restart"
    assert log_shows(reloading, notice)
    # The batch's reload line, if it had one, would have been logged with its notice.
    assert reload_lines(reloading) == []
    assert get(reloading.url + "/page").text.split()[-1] == before


def test_editor_temporary_files_and_caches_trigger_nothing(reloading: Server, site: Path) -> None:
    (site / ".py" / ".greeting.py.swp").write_text("x")
    (site / ".py" / "greeting.py~").write_text("x")
    (site / "__pycache__").mkdir()
    (site / "__pycache__" / "stale.py").write_text("x")
    (site / "notes.txt").write_text("x")
    # A later change that does reload: once it shows, the earlier ones were handled.
    edit(site / ".py" / "greeting.py", "v1", "v2")
    text_becomes(reloading.url + "/hello", "module v2")
    assert len(reload_lines(reloading)) == 1
    assert "swp" not in reloading.stderr()
    assert "stale.py" not in reloading.stderr()


def test_the_port_accepts_every_connection_during_reloads(reloading: Server, site: Path) -> None:
    failures: list[Exception] = []
    answers: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                answers.append(get(reloading.url + "/pid").status_code)
            except requests.RequestException as error:
                failures.append(error)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        for version in range(2, 4):
            edit(site / ".py" / "greeting.py", f"v{version - 1}", f"v{version}")
            text_becomes(reloading.url + "/hello", f"module v{version}")
    finally:
        stop.set()
        thread.join(60)
    assert failures == []
    assert answers and set(answers) == {200}


def test_a_syntax_error_in_init_py_serves_a_500_naming_file_and_line_until_fixed(
    reloading: Server, site: Path
) -> None:
    init = site / ".py" / "init.py"
    good = init.read_text()
    init.write_text(good.replace("INIT_TEXT = 'init v1'", "INIT_TEXT = = 'init v2'"))
    page = answer_becomes(reloading.url + "/anything", lambda r: r.status_code == 500)
    assert str(init) in page.text
    assert "line 8" in page.text
    assert "INIT_TEXT = = &#x27;init v2&#x27;" in page.text
    assert "correct the Python syntax at that line" in page.text
    assert "--reload" in page.text
    assert page.headers["cache-control"] == "no-store"
    init.write_text(good.replace("init v1", "init v2"))
    text_becomes(reloading.url + "/init", "init v2")
    assert reloading.process.poll() is None


def test_a_syntax_error_in_a_controller_module_names_that_module(
    reloading: Server, site: Path
) -> None:
    edit(site / ".py" / "shop.py", "self.item = 'ctrl v1'", "self.item = 'ctrl v1")
    page = answer_becomes(reloading.url + "/shop", lambda r: r.status_code == 500)
    assert f"{site / '.py' / 'shop.py'}, line 4" in page.text
    edit(site / ".py" / "shop.py", "self.item = 'ctrl v1", "self.item = 'ctrl v2'")
    text_becomes(reloading.url + "/shop", "ctrl v2")


def test_a_save_while_init_py_is_stuck_in_a_loop_starts_the_fixed_site(
    reloading: Server, site: Path
) -> None:
    """The stuck worker is stopped at the next change: no waiting for its start-up limit."""
    init = site / ".py" / "init.py"
    good = init.read_text()
    init.write_text("import time\nwhile True:\n    time.sleep(0.05)\n")
    assert len(reload_lines_after(reloading, 1)) == 1
    text_becomes(reloading.url + "/init", "init v1")  # the old worker still serves
    init.write_text(good.replace("init v1", "init v2"))
    text_becomes(reloading.url + "/init", "init v2")


def test_a_site_broken_at_start_serves_its_error_page_then_the_fixed_site(
    serve: Callable[..., Server], site: Path
) -> None:
    init = site / ".py" / "init.py"
    good = init.read_text()
    init.write_text("import greeting\nraise RuntimeError('not configured yet')\n")
    server = serve(site, "--reload")
    page = answer_becomes(server.url + "/hello", lambda r: r.status_code == 500)
    assert "init.py raised RuntimeError: not configured yet" in page.text
    assert f"{init}, line 2" in page.text
    assert "the site cannot start" in server.stderr()
    init.write_text(good)
    text_becomes(server.url + "/hello", "module v1")


def test_twistd_krait_reloads_too(serve: Callable[..., Server], site: Path) -> None:
    server = serve(site, "--reload", twistd=True)
    text_becomes(server.url + "/hello", "module v1")
    edit(site / ".py" / "greeting.py", "v1", "v2")
    text_becomes(server.url + "/hello", "module v2")
    assert len(reload_lines(server)) == 1


def test_reload_hides_the_lines_of_processes_starting_and_stopping(
    reloading: Server, site: Path
) -> None:
    edit(site / ".py" / "greeting.py", "v1", "v2")
    text_becomes(reloading.url + "/hello", "module v2")
    log = reloading.stderr()
    assert "serving" in log  # the ready line
    for chatter in ("supervisor:", "open-file limit", "Received SIG", "starting on"):
        assert chatter not in log


def test_reload_with_two_workers_is_refused_with_the_fix(site: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "krait", str(site), "--reload", "--workers", "2"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--reload serves the site from one process" in done.stderr
    assert "drop --workers while developing" in done.stderr
