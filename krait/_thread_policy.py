"""How krait's own threads are scheduled: they never preempt the reactor thread on wake-up.

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
