"""The head deadline and the body's minimum rate, as plain arithmetic (krait._deadlines)."""

from __future__ import annotations

import pytest

from krait._deadlines import (
    DEFAULT_BODY_MIN_RATE,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    ClientLimits,
    body_verdict,
    head_verdict,
)

LIMITS = ClientLimits(header_timeout=20, body_timeout=20, body_min_rate=500)


def test_defaults_are_mod_reqtimeouts() -> None:
    limits = ClientLimits()
    assert (
        (limits.header_timeout, limits.body_timeout, limits.body_min_rate)
        == (
            DEFAULT_HEADER_TIMEOUT,
            DEFAULT_BODY_TIMEOUT,
            DEFAULT_BODY_MIN_RATE,
        )
        == (20, 20, 500)
    )


def test_head_within_its_deadline_is_asked_again_when_it_runs_out() -> None:
    verdict = head_verdict(5, LIMITS)
    assert not verdict.too_slow
    assert verdict.check_again_in == 15


def test_head_past_its_deadline_is_too_slow_and_the_reason_names_the_option() -> None:
    verdict = head_verdict(20, LIMITS)
    assert verdict.too_slow
    assert verdict.reason == "the request head took over 20 s (see --header-timeout)"


def test_body_gets_the_body_timeout_before_any_byte() -> None:
    assert not body_verdict(19.9, 0, LIMITS).too_slow
    assert body_verdict(20, 0, LIMITS).too_slow


def test_every_min_rate_bytes_push_the_body_deadline_one_second() -> None:
    verdict = body_verdict(20, 5_000, LIMITS)
    assert not verdict.too_slow
    assert verdict.check_again_in == pytest.approx(10)
    assert body_verdict(30, 5_000, LIMITS).too_slow


def test_steady_upload_above_the_rate_is_never_too_slow() -> None:
    for second in range(1, 600):
        assert not body_verdict(second, 501 * second, LIMITS).too_slow


def test_trickle_below_the_rate_is_too_slow_after_the_grace() -> None:
    seconds = next(s for s in range(1, 600) if body_verdict(s, 100 * s, LIMITS).too_slow)
    assert seconds == 25  # 20 + 2,500 bytes / 500 B/s


def test_slow_body_reason_says_what_arrived_and_names_the_options() -> None:
    reason = body_verdict(25.5, 100, LIMITS).reason
    assert reason == (
        "the request body arrived slower than 500 bytes/s (100 bytes in 25.5 s; "
        "see --body-min-rate, --body-timeout)"
    )


def test_zero_turns_a_limit_off() -> None:
    assert not ClientLimits(header_timeout=0).times_heads
    assert not ClientLimits(body_min_rate=0).times_bodies
    assert ClientLimits().times_heads and ClientLimits().times_bodies
