"""The supervisor's pure decisions: crash back-off, per-worker request limits, --workers."""

from __future__ import annotations

import random
import signal

import pytest

from krait._restart_policy import (
    MAX_DELAY,
    STABLE_AFTER,
    Backoff,
    Exit,
    request_limit,
    worker_count,
)


def test_crashes_in_a_row_wait_1_2_4_seconds_up_to_30() -> None:
    backoff = Backoff()
    delays = [backoff.delay_after_crash(lived=1.0) for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert max(delays) == MAX_DELAY


def test_a_worker_that_lived_a_minute_resets_the_back_off() -> None:
    backoff = Backoff()
    for _ in range(4):
        backoff.delay_after_crash(lived=1.0)
    assert backoff.delay_after_crash(lived=STABLE_AFTER) == 1.0
    assert backoff.delay_after_crash(lived=1.0) == 2.0


def test_request_limit_adds_jitter_per_worker_and_zero_means_none() -> None:
    rng = random.Random(7)
    limits = {request_limit(20, 5, rng) for _ in range(200)}
    assert limits == set(range(20, 26))
    assert request_limit(0, 5, rng) == 0
    assert request_limit(20, 0, rng) == 20


def test_workers_auto_is_one_per_core() -> None:
    assert worker_count("auto", 6) == 6
    assert worker_count("AUTO", None) == 1
    assert worker_count("3", 6) == 3


@pytest.mark.parametrize("text", ["0", "-2", "many"])
def test_workers_refuses_what_is_not_a_positive_count_naming_the_flag(text: str) -> None:
    with pytest.raises(ValueError, match="--workers"):
        worker_count(text, 2)


def test_an_exit_reads_as_the_status_or_the_signal() -> None:
    assert str(Exit(3, None)) == "exit status 3"
    assert str(Exit(None, signal.SIGKILL)) == "killed by SIGKILL"
    assert Exit(0, None).clean
    assert not Exit(None, signal.SIGTERM).clean
