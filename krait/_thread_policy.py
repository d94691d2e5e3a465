"""How krait's own threads are scheduled: never preempting the reactor thread on wake-up, and
(with ``--cpu-affinity``) on one CPU per process.

The reactor thread holds the GIL most of the time; a pool thread it wakes could only block on
the GIL again, and the two context switches of preempting cost more than a small hand-off
(see :mod:`krait._workers`). Linux's ``SCHED_BATCH`` policy drops that wake-up preemption.
"""

from __future__ import annotations

import os


def defer_to_running_threads() -> bool:
    """Stop the calling thread from preempting others when it wakes up (Linux only).

    ``SCHED_BATCH`` keeps the thread's nice value and share of the CPU; it only drops wake-up
    preemption. Lowering a thread to it needs no privilege.

    Returns:
        True when the policy was applied; False where the platform lacks it or refuses.
    """
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None:
        return False
    try:
        # 0 is the calling thread: Linux schedules threads, not processes.
        os.sched_setscheduler(0, batch, os.sched_param(0))
    except OSError:
        return False
    return True


WORKER_SLOT_VARIABLE = "KRAIT_WORKER_SLOT"
"""Set by the supervisor: the worker's place (0, 1, ...), so ``auto`` gives each its own core."""


def parse_cpu_affinity(text: str | None) -> tuple[str, tuple[int, ...]]:
    """``--cpu-affinity``: ``none`` (the default), ``auto``, or a comma-separated core list.

    Returns:
        ``("none", ())``, ``("auto", ())`` or ``("cores", (0, 2, ...))``.

    Raises:
        ValueError: anything else (the message says what is accepted).
    """
    value = (text or "none").strip().lower()
    if value in ("none", "auto"):
        return value, ()
    try:
        cores = tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    except ValueError:
        cores = ()
    if not cores or min(cores) < 0:
        raise ValueError(
            f"--cpu-affinity takes none, auto or a list of CPU numbers such as 0,1; not {text!r}"
        )
    return "cores", cores


def apply_cpu_affinity(mode: str, cores: tuple[int, ...], slot: int = 0) -> set[int] | None:
    """Keep this process (the calling thread and every thread it starts later) on some CPUs.

    ``auto`` picks one CPU: the ``slot``-th of those allowed, so workers spread over cores.
    Call it before any other thread starts (Linux sets affinity per thread; new threads
    inherit the creator's).

    Returns:
        The CPUs now used, or None when nothing was changed (``none``, or no such support).
    """
    if mode == "none" or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = {allowed[slot % len(allowed)]} if mode == "auto" else set(cores)
    os.sched_setaffinity(0, chosen)
    return chosen
