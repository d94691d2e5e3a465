"""What ``--metrics-listen`` reports, as plain numbers: request counts, latency buckets, gauges.

The request path pays only for :meth:`RequestTally.record`: a dict increment and a bucket
found by bisection, on the reactor thread, with no lock. prometheus-client's own ``Counter``
and ``Histogram`` cost about six times that per request, and ten times in its multiprocess
mode, where each update writes a memory-mapped file under a lock (``bench/bench_metrics.py
--micro``); so krait counts in plain dicts and builds the metric families only when scraped.

A :class:`Snapshot` is one moment of a process's figures. With ``--workers`` every worker
sends its snapshot to the supervisor (as JSON, on its control pipe) and the supervisor adds
them up with :class:`WorkerTotals`: the counts of a worker that exited are kept, so the
totals never go backwards while workers are recycled, and its gauges are dropped.
"""

from __future__ import annotations

import json
import time
from bisect import bisect_left
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "JOB_KINDS",
    "KIND_NONE",
    "KIND_STATIC",
    "KIND_WEBSOCKET",
    "LATENCY_BOUNDS",
    "Latency",
    "RequestTally",
    "Snapshot",
    "WorkerTotals",
    "mark_route_kind",
]

KIND_NONE = "none"
"""Answered before a target was found: 400, 404, 405, 426, ``OPTIONS *``."""
KIND_STATIC = "static"
KIND_WEBSOCKET = "websocket"
JOB_KINDS = {"script": "script", "template": "pyml", "ctrl": "mvc", "file": KIND_WEBSOCKET}
"""The ``kind`` label of a page job's kind (``_pages.PageJob.kind``)."""

LATENCY_BOUNDS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Upper bounds (seconds) of the latency buckets; a last bucket takes the rest (``+Inf``).

From a millisecond (a file from memory) to ``--page-timeout``'s default of a minute.
"""


def mark_route_kind(request: Any, kind: str) -> None:
    """Say what serves ``request`` (``static``, ``script``, ...), for its ``kind`` label."""
    request.route_kind = kind


@dataclass
class Latency:
    """One histogram: a count per bucket of :data:`LATENCY_BOUNDS` (plus ``+Inf``), the sum.

    The counts are per bucket, not cumulative: :meth:`cumulative` gives Prometheus's form.
    """

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))
    total: float = 0.0

    def cumulative(self) -> list[tuple[str, int]]:
        """``[("0.001", n), ..., ("+Inf", count)]``: observations at or below each bound."""
        pairs = []
        running = 0
        for bound, count in zip((*LATENCY_BOUNDS, float("inf")), self.counts, strict=True):
            running += count
            pairs.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return pairs

    def add(self, other: Latency) -> None:
        """Add ``other``'s observations to these."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total


@dataclass
class Snapshot:
    """A process's figures at one moment.

    Attributes:
        requests: answered requests by (status code, kind).
        latency: the request-duration histogram of each kind.
        gauges: what is open or waiting now (``open_connections``, ...): summed over
            the live workers only.
        counters: other totals that only grow (``cpu_seconds``), kept after a worker exits.
    """

    requests: dict[tuple[int, str], int] = field(default_factory=dict)
    latency: dict[str, Latency] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)

    def add(self, other: Snapshot, gauges: bool = True) -> None:
        """Add ``other`` to this snapshot (its gauges too, unless ``gauges`` is False)."""
        for key, count in other.requests.items():
            self.requests[key] = self.requests.get(key, 0) + count
        for kind, latency in other.latency.items():
            self.latency.setdefault(kind, Latency()).add(latency)
        _add_values(self.counters, other.counters)
        if gauges:
            _add_values(self.gauges, other.gauges)

    def to_json(self) -> str:
        """One line of JSON that :meth:`from_json` reads back."""
        return json.dumps(
            {
                "requests": [[status, kind, n] for (status, kind), n in self.requests.items()],
                "latency": {k: [v.counts, v.total] for k, v in self.latency.items()},
                "gauges": self.gauges,
                "counters": self.counters,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        """The snapshot :meth:`to_json` wrote.

        Raises:
            ValueError: ``text`` is not such a snapshot (or has other latency buckets).
        """
        try:
            data = json.loads(text)
            snapshot = cls(
                requests={(int(s), str(k)): int(n) for s, k, n in data["requests"]},
                latency={
                    str(kind): Latency([int(c) for c in counts], float(total))
                    for kind, (counts, total) in data["latency"].items()
                },
                gauges={str(k): float(v) for k, v in data["gauges"].items()},
                counters={str(k): float(v) for k, v in data["counters"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not a metrics snapshot: {error}") from None
        if any(len(v.counts) != len(LATENCY_BOUNDS) + 1 for v in snapshot.latency.values()):
            raise ValueError("not a metrics snapshot: other latency buckets")
        return snapshot


def _add_values(into: dict[str, float], values: dict[str, float]) -> None:
    for name, value in values.items():
        into[name] = into.get(name, 0) + value


class RequestTally:
    """The requests one process answered, counted on the reactor thread.

    Args:
        clock: the monotonic clock requests are timed with.
    """

    def __init__(self, clock: Any = time.perf_counter) -> None:
        self.clock = clock
        self.requests: dict[tuple[int, str], int] = {}
        self.latency: dict[str, Latency] = {}

    def record(self, status: int, kind: str, seconds: float | None) -> None:
        """Count one answered request, and its duration unless ``seconds`` is None."""
        key = (status, kind)
        self.requests[key] = self.requests.get(key, 0) + 1
        if seconds is None:
            return
        latency = self.latency.get(kind)
        if latency is None:
            latency = self.latency[kind] = Latency()
        latency.counts[bisect_left(LATENCY_BOUNDS, seconds)] += 1
        latency.total += seconds

    def finished(self, request: Any) -> None:
        """Count a finished request: its ``code``, and the ``route_kind`` and
        ``started_at`` (this tally's clock) that krait's request and dispatch set."""
        started = getattr(request, "started_at", 0.0)
        seconds = self.clock() - started if started else None
        self.record(request.code, getattr(request, "route_kind", KIND_NONE), seconds)

    def snapshot(
        self, gauges: dict[str, float] | None = None, counters: dict[str, float] | None = None
    ) -> Snapshot:
        """A copy of the counts so far, with the ``gauges`` and ``counters`` read now."""
        return Snapshot(
            requests=dict(self.requests),
            latency={k: Latency(list(v.counts), v.total) for k, v in self.latency.items()},
            gauges=dict(gauges or {}),
            counters=dict(counters or {}),
        )


class WorkerTotals:
    """The supervisor's sum of its workers' snapshots (``--workers`` with metrics).

    A worker's snapshot is cumulative, so only the latest counts; a lost or late one is
    harmless. Once a worker is gone its last counts move to the departed total. Workers are
    told apart by a key of the supervisor's (its ``Worker`` object: a pid may be reused).
    """

    def __init__(self) -> None:
        self.live: dict[Hashable, Snapshot] = {}
        self.departed = Snapshot()

    def report(self, worker: Hashable, text: str) -> bool:
        """Take ``worker``'s snapshot (a line of JSON); False if it cannot be read."""
        try:
            self.live[worker] = Snapshot.from_json(text)
        except ValueError:
            return False
        return True

    def gone(self, worker: Hashable) -> None:
        """``worker`` exited: keep its counts, drop its gauges."""
        last = self.live.pop(worker, None)
        if last is not None:
            self.departed.add(last, gauges=False)

    def retain(self, workers: Collection[Hashable]) -> None:
        """Count every worker not among ``workers`` (those running now) as :meth:`gone`.

        A worker's last snapshot comes before its exit is noticed, so it is final here.
        """
        for worker in [worker for worker in self.live if worker not in workers]:
            self.gone(worker)

    def total(self, gauges: Iterable[tuple[str, float]] = ()) -> Snapshot:
        """The whole server's figures: every worker's plus the departed counts, and
        ``gauges`` of the supervisor's own (``workers``)."""
        total = Snapshot()
        total.add(self.departed)
        for snapshot in self.live.values():
            total.add(snapshot)
        total.gauges.update(gauges)
        return total
