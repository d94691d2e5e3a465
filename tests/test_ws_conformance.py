"""RFC 6455 conformance: the Autobahn test suite (wstest) against krait's echo controllers.

``../shared/tools/ws-conformance`` (or ``$WS_CONFORMANCE``) drives the suite (it needs
Python 2.7, which it sets up once). Sections 1-7, 9 and 10 run against a threaded controller
and an asynchronous one; every case must pass. Section 9 moves large messages, so the test is
marked slow.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Server, shared_tool
from ws_site import echo_site

TOOL = shared_tool("ws-conformance", "WS_CONFORMANCE")
CASES = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*"
SUITE_UNAVAILABLE = 2


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_threaded_and_async_echo_pass_the_autobahn_suite(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    if not TOOL.exists():
        pytest.skip(f"THE WEBSOCKET CONFORMANCE SUITE WAS NOT RUN: {TOOL} is missing")
    server = serve(echo_site(tmp_path / "site"), "--no-access-log")
    base = f"ws://127.0.0.1:{server.port}"
    completed = subprocess.run(
        [
            str(TOOL),
            "--cases",
            CASES,
            "--outdir",
            str(tmp_path / "report"),
            "--agent",
            "krait-threaded",
            "--agent",
            "krait-async",
            f"{base}/echo",
            f"{base}/async-echo",
        ],
        capture_output=True,
        text=True,
        timeout=2300,
    )
    output = completed.stdout + completed.stderr
    if completed.returncode == SUITE_UNAVAILABLE:
        pytest.skip(
            "THE WEBSOCKET CONFORMANCE SUITE WAS NOT RUN: it could not be set up "
            f"(no Python 2.7 or no package index):\n{output[-2000:]}"
        )
    assert completed.returncode == 0, f"conformance failures:\n{output[-4000:]}"
