"""WebsocketsCtrlBase as a plain object: its queues, waits and flags, without a server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from krait.websockets import (
    IN_QUEUE_PAUSE_AT,
    IN_QUEUE_PAUSE_BYTES,
    IN_QUEUE_RESUME_AT,
    OUT_QUEUE_HIGH_BYTES,
    WebsocketsCtrlBase,
    mailbox_of,
    message_size,
)


def _nothing() -> None:
    pass


def attach(
    ctrl: WebsocketsCtrlBase,
    on_out: Callable[[], None] = _nothing,
    on_drained: Callable[[], None] = _nothing,
) -> None:
    """Give the controller the hooks a krait server gives it while the connection is open."""
    mailbox_of(ctrl).attach(start_thread=_nothing, on_out=on_out, on_drained=on_drained)


def test_pop_in_message_is_none_at_once_when_the_queue_is_empty() -> None:
    assert WebsocketsCtrlBase().pop_in_message() is None


def test_incoming_messages_are_popped_in_order() -> None:
    ctrl = WebsocketsCtrlBase()
    for message in ("one", b"two", "three"):
        ctrl.on_in_message_internal(message)
    assert [ctrl.pop_in_message() for _ in range(4)] == ["one", b"two", "three", None]


def test_pop_in_message_with_a_timeout_waits_for_a_message_from_another_thread() -> None:
    ctrl = WebsocketsCtrlBase()
    timer = threading.Timer(0.05, ctrl.on_in_message_internal, ("late",))
    timer.start()
    try:
        assert ctrl.pop_in_message(timeout=5) == "late"
    finally:
        timer.cancel()


def test_waiting_pop_ends_with_none_when_the_connection_stops() -> None:
    ctrl = WebsocketsCtrlBase()
    timer = threading.Timer(0.05, ctrl.on_stop)
    timer.start()
    started = time.monotonic()
    assert ctrl.pop_in_message(timeout=None) is None
    assert time.monotonic() - started < 5
    assert ctrl.should_stop()


def test_without_the_queue_messages_are_ignored_and_pop_is_an_error() -> None:
    ctrl = WebsocketsCtrlBase(use_in_message_queue=False)
    ctrl.on_in_message_internal("dropped, as the original dropped it")
    with pytest.raises(RuntimeError, match="use_in_message_queue=False"):
        ctrl.pop_in_message()


def test_wait_stopped_is_true_while_no_thread_was_started() -> None:
    ctrl = WebsocketsCtrlBase()
    assert ctrl.wait_stopped(0) is True
    ctrl.on_stop()
    assert ctrl.wait_stopped(0) is True


def test_outgoing_messages_leave_in_order_and_each_push_calls_the_listener() -> None:
    ctrl = WebsocketsCtrlBase()
    calls: list[int] = []
    attach(ctrl, on_out=lambda: calls.append(1))
    ctrl.push_out_message("a")
    ctrl.push_out_message(b"b")
    assert [ctrl.pop_out_message() for _ in range(3)] == ["a", b"b", None]
    assert len(calls) == 2


def test_drained_listener_fires_when_the_queue_falls_to_the_resume_mark() -> None:
    ctrl = WebsocketsCtrlBase()
    fired_at: list[int] = []
    mailbox = mailbox_of(ctrl)
    attach(ctrl, on_drained=lambda: fired_at.append(mailbox.queued_in()))
    for number in range(IN_QUEUE_PAUSE_AT):
        ctrl.on_in_message_internal(number)
    assert mailbox.in_full()
    mailbox.throttle(thread_pops=True)  # as krait does when it stops reading
    while ctrl.pop_in_message() is not None:
        pass
    assert fired_at == [IN_QUEUE_RESUME_AT]  # once, at the mark


def test_incoming_queue_is_full_by_bytes_as_well_as_by_count() -> None:
    ctrl = WebsocketsCtrlBase()
    overhead = message_size(b"")
    ctrl.on_in_message_internal(b"x" * (IN_QUEUE_PAUSE_BYTES - 2 * overhead))
    assert not mailbox_of(ctrl).in_full()
    ctrl.on_in_message_internal(b"y" * overhead)
    assert mailbox_of(ctrl).in_full()
    ctrl.pop_in_message()
    assert mailbox_of(ctrl).in_low()


def test_push_waits_while_the_client_does_not_read_and_goes_on_when_it_does() -> None:
    ctrl = WebsocketsCtrlBase()
    attach(ctrl)  # as krait does while the connection is open
    big = b"z" * (OUT_QUEUE_HIGH_BYTES // 2 - message_size(b""))
    ctrl.push_out_message(big)
    ctrl.push_out_message(big)  # exactly at the mark: no wait
    pushed = threading.Event()
    pusher = threading.Thread(
        target=lambda: (ctrl.push_out_message(b"more"), pushed.set()), daemon=True
    )
    pusher.start()
    assert not pushed.wait(0.2)  # over the mark: it waits
    assert ctrl.pop_out_message() is big
    assert not pushed.wait(0.2)  # still over the low mark
    assert ctrl.pop_out_message() is big  # the client reads on: below the low mark
    assert pushed.wait(5)
    pusher.join(5)


def test_a_waiting_push_returns_when_the_connection_stops() -> None:
    ctrl = WebsocketsCtrlBase()
    attach(ctrl)
    ctrl.push_out_message(b"z" * OUT_QUEUE_HIGH_BYTES)
    pushed = threading.Event()
    pusher = threading.Thread(
        target=lambda: (ctrl.push_out_message(b"more"), pushed.set()), daemon=True
    )
    pusher.start()
    assert not pushed.wait(0.2)
    ctrl.on_stop()
    assert pushed.wait(5)
    pusher.join(5)


class _Echo(WebsocketsCtrlBase):
    def on_thread_start(self) -> None:
        while not self.should_stop():
            message = self.pop_in_message(timeout=0.5)
            if message is not None:
                self.push_out_message(message)


def test_on_start_outside_a_server_runs_the_thread_as_the_original_did() -> None:
    ctrl = _Echo()
    ctrl.on_start()
    assert ctrl.wait_stopped(0) is False
    ctrl.on_in_message_internal("ping")
    deadline = time.monotonic() + 5
    reply = None
    while reply is None and time.monotonic() < deadline:
        reply = ctrl.pop_out_message()
        time.sleep(0.01)
    ctrl.on_stop()
    assert reply == "ping"
    assert ctrl.wait_stopped(5) is True
