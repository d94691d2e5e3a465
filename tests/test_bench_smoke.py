"""The pure-Python benchmarks still run and still compare like with like (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_template_benchmark_renders_the_same_page_with_both_engines() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_templates.py"), "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO / "bench",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pyml" in done.stdout
    assert "jinja2" in done.stdout


def test_metrics_harness_answers_every_pipelined_request_with_the_tally_on() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "bench_metrics.py"),
            "--harness-child",
            "on",
            "--harness-requests",
            "20",
            "--harness-rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO / "bench",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert float(done.stdout) > 0
