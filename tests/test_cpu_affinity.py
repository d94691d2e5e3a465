"""--cpu-affinity: a process (and every thread it starts) kept on chosen CPUs."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from conftest import Server, write_site

from krait._thread_policy import apply_cpu_affinity, parse_cpu_affinity

linux_only = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's"
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (None, ("none", ())),
        ("none", ("none", ())),
        ("AUTO", ("auto", ())),
        ("1,0,1", ("cores", (0, 1))),
    ],
)
def test_cpu_affinity_values(text: str | None, parsed: tuple[str, tuple[int, ...]]) -> None:
    assert parse_cpu_affinity(text) == parsed


@pytest.mark.parametrize("text", ["some", "0,x", "-1", ","])
def test_a_bad_cpu_affinity_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="none, auto or a list of CPU numbers"):
        parse_cpu_affinity(text)


def in_a_thread(action: Callable[[], object]) -> object:
    """Run ``action`` in a thread of its own: affinity is per thread, the test's stays as is."""
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(action()))
    thread.start()
    thread.join()
    return outcome[0]


@linux_only
def test_auto_picks_one_cpu_by_slot_and_none_changes_nothing() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    assert in_a_thread(lambda: apply_cpu_affinity("none", ())) is None
    for slot in range(3):
        chosen = in_a_thread(lambda slot=slot: apply_cpu_affinity("auto", (), slot))  # type: ignore[misc]
        assert chosen == {allowed[slot % len(allowed)]}


@linux_only
def test_the_server_and_its_threads_run_on_one_cpu_with_auto(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", {".py/init.py": "", "hi.py": "return 'hi'\n"})
    server = serve(site, "--cpu-affinity", "auto")
    assert requests.get(server.url + "/hi", timeout=10).text == "hi"  # starts a pool thread
    tasks = Path(f"/proc/{server.process.pid}/task")
    lists = {
        line.split(":", 1)[1].strip()
        for task in tasks.iterdir()
        for line in (task / "status").read_text().splitlines()
        if line.startswith("Cpus_allowed_list:")
    }
    assert len(lists) == 1
    (cpus,) = lists
    assert cpus.isdigit(), f"expected one CPU, got {cpus}"
    assert "running on CPU" in server.stderr()
