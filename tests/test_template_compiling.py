"""Templates are read and compiled in the worker pool, never on the reactor thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import pytest_twisted
from conftest import write_site

import krait._pages
from krait.testing import start_site

SITE = {
    ".py/init.py": "",
    "dynamic.html": "<p>@(6 * 7)@</p>",
    "static.html": "<p>plain</p>",
    "broken.html": "<p>@for x in y:</p>",
}


@pytest_twisted.ensureDeferred
async def test_templates_are_compiled_off_the_reactor_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled_in: list[str] = []
    real_compile = krait._pages.compile_template

    def recording_compile(source: str, path: str) -> object:
        compiled_in.append(threading.current_thread().name)
        return real_compile(source, path)

    monkeypatch.setattr(krait._pages, "compile_template", recording_compile)
    async with await start_site(write_site(tmp_path / "site", SITE)) as site:
        dynamic = await site.get("/dynamic.html")
        static = await site.get("/static.html")
        broken = await site.get("/broken.html")
        again = await site.get("/dynamic.html")
    assert (dynamic.status, dynamic.text) == (200, "<p>42</p>")
    assert (static.status, static.text) == (200, "<p>plain</p>")
    assert broken.status == 500
    assert again.text == "<p>42</p>"
    assert len(compiled_in) == 3  # the second request used the compiled template
    assert threading.main_thread().name not in compiled_in
