"""The open-file budget: the raised limit, the connections that fit, the slots that count them."""

from __future__ import annotations

import resource

from krait._open_files import (
    MAX_CONNECTIONS_CAP,
    MAX_LINGERING_REFUSALS,
    ConnectionSlots,
    connections_fit,
    default_max_connections,
    raise_open_file_limit,
    raised_soft_limit,
)

UNLIMITED = -1


def test_soft_limit_is_raised_to_the_hard_one() -> None:
    assert raised_soft_limit(1024, 524_288, UNLIMITED) == 524_288
    assert raised_soft_limit(4096, 4096, UNLIMITED) == 4096


def test_unlimited_hard_limit_asks_for_a_large_finite_soft_one() -> None:
    assert raised_soft_limit(256, UNLIMITED, UNLIMITED) == 65_536
    assert raised_soft_limit(100_000, UNLIMITED, UNLIMITED) == 100_000
    assert raised_soft_limit(UNLIMITED, UNLIMITED, UNLIMITED) == UNLIMITED


def test_default_connections_leave_a_descriptor_for_a_file_each_and_some_spare() -> None:
    assert default_max_connections(1024) == 480
    assert default_max_connections(20_000) == 9_968
    assert default_max_connections(1_048_576) == MAX_CONNECTIONS_CAP
    assert default_max_connections(10) == 1


def test_connections_fit_with_a_file_each() -> None:
    assert connections_fit(480, 1024)
    assert not connections_fit(1000, 1024)


def test_raising_leaves_the_soft_limit_at_the_hard_one() -> None:
    limit = raise_open_file_limit()
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit.soft
    assert limit.soft >= limit.before


def test_slots_count_up_to_the_limit_then_refuse() -> None:
    slots = ConnectionSlots(2)
    first, second = slots.take(), slots.take()
    assert first is not None and second is not None
    assert slots.take() is None
    assert slots.take() is None
    assert (slots.open, slots.refused_in_a_row) == (2, 2)
    first.release()
    assert (slots.open, slots.refused_in_a_row) == (1, 0)
    assert slots.take() is not None


def test_a_slot_is_released_once_however_often_asked() -> None:
    slots = ConnectionSlots(5)
    slot = slots.take()
    assert slot is not None
    slot.release()
    slot.release()
    assert slots.open == 0


def test_only_so_many_refused_connections_linger_at_once() -> None:
    slots = ConnectionSlots(1)
    assert all(slots.linger() for _ in range(MAX_LINGERING_REFUSALS))
    assert not slots.linger()
    slots.stop_lingering()
    assert slots.linger()
