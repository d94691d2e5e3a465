"""The counts behind ``/metrics``, from plain values: tallies, snapshots, workers' sums."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from krait._metrics_tally import (
    JOB_KINDS,
    KIND_NONE,
    LATENCY_BOUNDS,
    Latency,
    RequestTally,
    Snapshot,
    WorkerTotals,
    mark_route_kind,
)


def test_requests_are_counted_by_status_and_kind() -> None:
    tally = RequestTally()
    tally.record(200, "script", 0.01)
    tally.record(200, "script", 0.02)
    tally.record(404, "none", 0.001)
    assert tally.requests == {(200, "script"): 2, (404, "none"): 1}


def test_a_duration_on_a_bound_falls_in_that_bound_s_bucket() -> None:
    """Prometheus's ``le``: a bucket counts the observations at or below its bound."""
    tally = RequestTally()
    tally.record(200, "static", 0.001)
    tally.record(200, "static", 0.0011)
    tally.record(200, "static", 1000.0)
    counts = tally.latency["static"].counts
    assert counts[0] == 1
    assert counts[1] == 1
    assert counts[-1] == 1
    assert tally.latency["static"].total == pytest.approx(1000.0021)


def test_cumulative_buckets_end_with_every_observation_at_inf() -> None:
    latency = Latency()
    latency.counts[0] = 2
    latency.counts[3] = 1
    latency.counts[-1] = 4
    pairs = latency.cumulative()
    assert pairs[0] == ("0.001", 2)
    assert pairs[3] == ("0.01", 3)
    assert pairs[-2] == ("60.0", 3)
    assert pairs[-1] == ("+Inf", 7)
    assert len(pairs) == len(LATENCY_BOUNDS) + 1


def test_a_request_without_a_duration_is_counted_but_not_timed() -> None:
    tally = RequestTally()
    tally.record(400, KIND_NONE, None)
    assert tally.requests == {(400, KIND_NONE): 1}
    assert tally.latency == {}


def test_a_finished_request_is_timed_from_its_start_on_the_tally_s_clock() -> None:
    tally = RequestTally(clock=lambda: 10.5)
    request = SimpleNamespace(code=200, started_at=10.0)
    mark_route_kind(request, "pyml")
    tally.finished(request)
    assert tally.requests == {(200, "pyml"): 1}
    assert tally.latency["pyml"].total == 0.5


def test_a_request_that_was_never_routed_counts_as_kind_none_untimed() -> None:
    tally = RequestTally(clock=lambda: 3.0)
    tally.finished(SimpleNamespace(code=400))
    assert tally.requests == {(400, "none"): 1}
    assert tally.latency == {}


def test_every_page_job_kind_has_a_label() -> None:
    assert JOB_KINDS == {"script": "script", "template": "pyml", "ctrl": "mvc", "file": "websocket"}


def test_a_snapshot_is_a_copy_that_later_requests_leave_alone() -> None:
    tally = RequestTally()
    tally.record(200, "script", 0.01)
    snapshot = tally.snapshot({"open_connections": 3})
    tally.record(200, "script", 0.01)
    assert snapshot.requests == {(200, "script"): 1}
    assert sum(snapshot.latency["script"].counts) == 1
    assert snapshot.gauges == {"open_connections": 3}


def test_a_snapshot_survives_its_json_line() -> None:
    tally = RequestTally()
    tally.record(200, "script", 0.01)
    tally.record(503, "mvc", 2.0)
    snapshot = tally.snapshot({"websockets_open": 2}, {"worker_cpu_seconds": 1.5})
    text = snapshot.to_json()
    assert "\n" not in text
    assert Snapshot.from_json(text) == snapshot


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"requests": []}',
        '{"requests": [], "latency": {"script": [[1, 2], 0.5]}, "gauges": {}, "counters": {}}',
    ],
)
def test_a_line_that_is_no_snapshot_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a metrics snapshot"):
        Snapshot.from_json(text)


def worker_line(requests: int, connections: int, cpu: float = 1.0) -> str:
    tally = RequestTally()
    for _ in range(requests):
        tally.record(200, "script", 0.01)
    return tally.snapshot({"open_connections": connections}, {"worker_cpu_seconds": cpu}).to_json()


def test_the_workers_totals_add_up_every_live_worker() -> None:
    totals = WorkerTotals()
    assert totals.report(101, worker_line(3, 2))
    assert totals.report(102, worker_line(4, 5))
    total = totals.total([("workers", 2)])
    assert total.requests == {(200, "script"): 7}
    assert sum(total.latency["script"].counts) == 7
    assert total.gauges == {"open_connections": 7, "workers": 2}
    assert total.counters == {"worker_cpu_seconds": 2.0}


def test_a_newer_report_replaces_the_worker_s_older_one() -> None:
    totals = WorkerTotals()
    totals.report(101, worker_line(3, 2))
    totals.report(101, worker_line(5, 1))
    assert totals.total().requests == {(200, "script"): 5}


def test_a_departed_worker_keeps_its_counts_but_not_its_gauges() -> None:
    totals = WorkerTotals()
    totals.report(101, worker_line(3, 2, cpu=4.0))
    totals.report(102, worker_line(4, 5, cpu=1.0))
    totals.gone(101)
    totals.gone(999)  # never reported: nothing to keep
    total = totals.total()
    assert total.requests == {(200, "script"): 7}
    assert total.gauges == {"open_connections": 5}
    assert total.counters == {"worker_cpu_seconds": 5.0}


def test_an_unreadable_report_is_ignored_and_the_last_good_one_kept() -> None:
    totals = WorkerTotals()
    totals.report(101, worker_line(3, 2))
    assert not totals.report(101, '{"half a line')
    assert totals.total().requests == {(200, "script"): 3}


def test_workers_no_longer_running_are_counted_as_departed() -> None:
    totals = WorkerTotals()
    first, second = object(), object()
    totals.report(first, worker_line(3, 2))
    totals.report(second, worker_line(4, 5))
    totals.retain([second])
    assert list(totals.live) == [second]
    total = totals.total()
    assert total.requests == {(200, "script"): 7}
    assert total.gauges == {"open_connections": 5}
