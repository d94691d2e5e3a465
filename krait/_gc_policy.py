"""How krait's process uses Python's cyclic garbage collector.

A loaded site is some 60,000 objects tracked by the collector (Twisted, krait, the site's
modules), nearly all alive until the process ends. A full collection walks every one of them:
about 30 ms of CPU with the GIL held, so every request in flight waits for it. A busy server
makes full collections often, because each collection of the younger generations moves the
objects of the requests in flight into the oldest one (they die a moment later, but the
collector counts them as long-lived): with a hello page at ~7,000 requests a second, six a
second in a measure on two cores, and they made the tail of the latency (p99 at saturation).

Once the site is loaded and listening, :func:`freeze_loaded_objects` moves what is alive into
the collector's permanent generation, which full collections skip: they then walk only what
was made since, and take a couple of milliseconds.

A request makes and drops a few hundred objects the collector tracks; with Python's default
threshold a young collection ran every few requests, each walking the objects of every
request in flight. :func:`collect_young_less_often` raises the threshold to
:data:`YOUNG_THRESHOLD`: a young collection then walks about as much, about seven times less
often (3 % more hello pages a second in ``bench/``). Garbage that only the collector can free
(cycles) waits a little longer for it: at most that many more objects.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 5000
"""Allocations of tracked objects, less deallocations, between two young collections
(Python's default is 700)."""


def prepare_collector_for_serving() -> int:
    """What krait does to the collector once the site is loaded: freeze what is alive, and
    collect young objects less often. Returns how many objects are frozen."""
    frozen = freeze_loaded_objects()
    collect_young_less_often()
    return frozen


def collect_young_less_often() -> None:
    """Raise the young generation's threshold to :data:`YOUNG_THRESHOLD` (the older
    generations' thresholds are kept)."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), middle, old)


def freeze_loaded_objects() -> int:
    """Collect the garbage of the start-up, then exempt every object alive from later
    collections (Python's ``gc.freeze``). Call it once, after the site is loaded.

    Frozen objects are still freed when their reference count falls to zero; only a cycle
    among them that becomes garbage later stays (reloading a module whose objects form
    cycles leaves them behind, once).

    Returns:
        How many objects are frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
