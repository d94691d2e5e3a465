"""REDbot, the HTTP caching/validation/range linter, finds nothing to warn about in site_demo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import REPO, shared_tool, start_server

HTTP_LINT = shared_tool("http-lint", "HTTP_LINT")


@pytest.mark.slow
@pytest.mark.skipif(not HTTP_LINT.exists(), reason=f"{HTTP_LINT} is not on this machine")
def test_redbot_reports_no_warnings_for_site_demo(tmp_path: Path) -> None:
    server = start_server(REPO / "site_demo", tmp_path / "log")
    try:
        urls = [server.url + path for path in ("/", "/css/site.css", "/downloads/sample.bin")]
        done = subprocess.run(
            [str(HTTP_LINT), "--strict", *urls], capture_output=True, text=True, timeout=600
        )
    finally:
        server.stop()
    if done.returncode == 2:
        pytest.skip(f"REDbot could not be installed: {done.stderr[-500:]}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS: 0 BAD, 0 WARN over 3 URLs" in done.stdout
