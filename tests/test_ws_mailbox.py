"""The Mailbox of a threaded controller as plain values: marks, byte counts, drops, wake-ups."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from krait._ws.mailbox import (
    IN_QUEUE_PAUSE_AT,
    IN_QUEUE_PAUSE_BYTES,
    IN_QUEUE_RESUME_AT,
    OUT_QUEUE_HIGH_BYTES,
    OUT_QUEUE_LOW_BYTES,
    Mailbox,
    Throttle,
    message_size,
)


class Hooks:
    """Records what the mailbox tells the server."""

    def __init__(self) -> None:
        self.threads = 0
        self.outs = 0
        self.drained = 0

    def start_thread(self) -> None:
        self.threads += 1

    def on_out(self) -> None:
        self.outs += 1

    def on_drained(self) -> None:
        self.drained += 1


def attached() -> tuple[Mailbox, Hooks]:
    mailbox, hooks = Mailbox(), Hooks()
    mailbox.attach(
        start_thread=hooks.start_thread, on_out=hooks.on_out, on_drained=hooks.on_drained
    )
    return mailbox, hooks


def fill(mailbox: Mailbox, count: int, message: object = "m") -> None:
    with mailbox.lock:
        for _ in range(count):
            mailbox.put_in(message)


def test_message_size_is_length_plus_overhead_and_a_flat_overhead_for_other_objects() -> None:
    assert message_size("abc") == message_size(b"abc") == message_size(bytearray(3)) == 67
    assert message_size(42) == message_size(memoryview(b"abcdef")) == 64


def test_incoming_queue_is_full_at_the_count_mark() -> None:
    mailbox = Mailbox()
    fill(mailbox, IN_QUEUE_PAUSE_AT - 1)
    assert not mailbox.in_full()
    fill(mailbox, 1)
    assert mailbox.in_full()


def test_incoming_queue_is_full_at_the_byte_mark() -> None:
    mailbox = Mailbox()
    fill(mailbox, 1, b"x" * (IN_QUEUE_PAUSE_BYTES - message_size(b"")))
    assert mailbox.in_full()
    assert mailbox.queued_in() == 1


def test_popping_gives_back_the_bytes_of_each_message() -> None:
    mailbox = Mailbox()
    fill(mailbox, 2, b"x" * (IN_QUEUE_PAUSE_BYTES // 2))
    assert mailbox.in_full()
    mailbox.pop_in(0)
    assert not mailbox.in_full()
    mailbox.pop_in(0)
    assert mailbox.in_low()
    assert mailbox.pop_in(0) is None


def test_throttle_has_room_below_the_marks() -> None:
    mailbox, _ = attached()
    fill(mailbox, IN_QUEUE_PAUSE_AT - 1)
    assert mailbox.throttle(thread_pops=True) is Throttle.ROOM
    assert mailbox.queued_in() == IN_QUEUE_PAUSE_AT - 1


def test_pause_ends_with_one_drained_call_at_the_resume_mark() -> None:
    mailbox, hooks = attached()
    fill(mailbox, IN_QUEUE_PAUSE_AT)
    assert mailbox.throttle(thread_pops=True) is Throttle.PAUSE
    while mailbox.queued_in() > IN_QUEUE_RESUME_AT + 1:
        mailbox.pop_in(0)
    assert hooks.drained == 0
    mailbox.pop_in(0)
    assert hooks.drained == 1
    while mailbox.pop_in(0) is not None:
        pass
    assert hooks.drained == 1


def test_no_drained_call_without_a_pause() -> None:
    mailbox, hooks = attached()
    fill(mailbox, IN_QUEUE_PAUSE_AT)
    while mailbox.pop_in(0) is not None:
        pass
    assert hooks.drained == 0


def test_forgetting_the_pause_means_no_drained_call() -> None:
    mailbox, hooks = attached()
    fill(mailbox, IN_QUEUE_PAUSE_AT)
    mailbox.throttle(thread_pops=True)
    mailbox.forget_pause()
    while mailbox.pop_in(0) is not None:
        pass
    assert hooks.drained == 0


def test_without_a_popping_thread_the_newest_message_is_dropped() -> None:
    mailbox, _ = attached()
    fill(mailbox, IN_QUEUE_PAUSE_AT - 1, "old")
    fill(mailbox, 1, "newest")
    assert mailbox.throttle(thread_pops=False) is Throttle.DROPPED
    assert mailbox.queued_in() == IN_QUEUE_PAUSE_AT - 1
    assert not mailbox.in_full()
    assert {mailbox.pop_in(0) for _ in range(IN_QUEUE_PAUSE_AT - 1)} == {"old"}


def test_a_waiting_pop_is_woken_by_a_message_put_from_another_thread() -> None:
    mailbox = Mailbox()

    def put_later() -> None:
        time.sleep(0.05)
        with mailbox.lock:
            mailbox.put_in("late")
            mailbox.notify_readers()

    threading.Thread(target=put_later, daemon=True).start()
    assert mailbox.pop_in(5) == "late"


def test_a_waiting_pop_returns_none_at_a_stop() -> None:
    mailbox = Mailbox()
    threading.Timer(0.05, mailbox.stop).start()
    started = time.monotonic()
    assert mailbox.pop_in(None) is None
    assert time.monotonic() - started < 5
    assert mailbox.stopped


def test_a_pop_with_a_timeout_gives_up_after_it() -> None:
    started = time.monotonic()
    assert Mailbox().pop_in(0.05) is None
    assert time.monotonic() - started >= 0.04


def _deliver(mailbox: Mailbox, message: object) -> None:
    with mailbox.lock:
        mailbox.put_in(message)
        mailbox.notify_readers()


def test_every_waiting_reader_gets_one_of_as_many_messages() -> None:
    mailbox = Mailbox()
    got: list[object] = []
    readers = [
        threading.Thread(target=lambda: got.append(mailbox.pop_in(10)), daemon=True)
        for _ in range(4)
    ]
    for reader in readers:
        reader.start()
    while mailbox._bell_readers < 4:  # all four wait
        time.sleep(0.01)
    for number in range(4):
        _deliver(mailbox, number)
    for reader in readers:
        reader.join(10)
    assert sorted(got) == [0, 1, 2, 3]  # type: ignore[type-var]


def test_a_stop_wakes_every_waiting_reader_with_none() -> None:
    mailbox = Mailbox()
    got: list[object] = []
    readers = [
        threading.Thread(target=lambda: got.append(mailbox.pop_in(None)), daemon=True)
        for _ in range(3)
    ]
    for reader in readers:
        reader.start()
    while mailbox._bell_readers < 3:
        time.sleep(0.01)
    mailbox.stop()
    for reader in readers:
        reader.join(10)
    assert got == [None, None, None]


def test_a_wake_up_owed_to_a_reader_that_gave_up_is_no_message() -> None:
    mailbox = Mailbox()
    assert mailbox.pop_in(0.01) is None
    mailbox._bell_readers += 1  # a reader that timed out just as a wake-up was owed to it
    mailbox.wake_readers()
    mailbox._bell_readers -= 1
    assert mailbox.pop_in(0.05) is None  # takes the stale wake-up, finds nothing, waits on
    threading.Timer(0.05, _deliver, (mailbox, "next")).start()
    assert mailbox.pop_in(10) == "next"


def test_a_reader_holding_the_lock_lets_the_writer_in_while_it_waits() -> None:
    # on_in_message runs under the lock; a blocking pop there must not keep messages out.
    mailbox = Mailbox()
    threading.Timer(0.05, _deliver, (mailbox, "in")).start()
    with mailbox.lock:
        assert mailbox.pop_in(10) == "in"
        threading.Timer(0.05, mailbox.stop).start()
        assert mailbox.pop_in(None) is None


def test_push_tells_the_server_and_asks_to_wait_only_over_the_high_mark() -> None:
    mailbox, hooks = attached()
    half = b"z" * (OUT_QUEUE_HIGH_BYTES // 2 - message_size(b""))
    assert mailbox.push_out(half) is False
    assert mailbox.push_out(half) is False  # exactly at the mark
    assert mailbox.push_out(b"more") is True
    assert hooks.outs == 3


def test_push_without_a_server_never_asks_to_wait() -> None:
    mailbox = Mailbox()
    assert mailbox.push_out(b"z" * (2 * OUT_QUEUE_HIGH_BYTES)) is False
    assert mailbox.has_out()


def test_outgoing_messages_leave_in_order() -> None:
    mailbox, _ = attached()
    for message in ("a", b"b", "c"):
        mailbox.push_out(message)
    assert [mailbox.pop_out() for _ in range(4)] == ["a", b"b", "c", None]
    assert not mailbox.has_out()


def test_a_waiting_pusher_goes_on_at_the_low_mark() -> None:
    mailbox, _ = attached()
    chunk = b"z" * (OUT_QUEUE_LOW_BYTES // 2 - message_size(b""))
    for _ in range(4):  # exactly the high mark
        mailbox.push_out(chunk)
    waited = threading.Event()
    waiter = threading.Thread(target=lambda: (mailbox.wait_for_room(), waited.set()), daemon=True)
    waiter.start()
    mailbox.pop_out()
    assert not waited.wait(0.1)  # still above the low mark
    mailbox.pop_out()  # exactly the low mark
    assert waited.wait(5)
    waiter.join(5)


def test_a_waiting_pusher_goes_on_when_the_server_detaches() -> None:
    mailbox, _ = attached()
    mailbox.push_out(b"z" * (2 * OUT_QUEUE_HIGH_BYTES))
    waited = threading.Event()
    threading.Thread(target=lambda: (mailbox.wait_for_room(), waited.set()), daemon=True).start()
    assert not waited.wait(0.1)
    mailbox.detach()
    mailbox.wake_all()
    assert waited.wait(5)


def test_request_thread_runs_the_attached_starter_or_says_there_is_none() -> None:
    assert Mailbox().request_thread() is False
    mailbox, hooks = attached()
    assert mailbox.request_thread() is True
    assert hooks.threads == 1


def test_thread_life_is_idle_until_started_and_after_it_returned() -> None:
    mailbox = Mailbox()
    assert mailbox.wait_thread_returned(0) is True
    mailbox.thread_started()
    assert mailbox.wait_thread_returned(0) is False
    mailbox.thread_returned()
    assert mailbox.wait_thread_returned(0) is True


def test_the_mailbox_and_the_handshake_rules_import_no_twisted() -> None:
    code = (
        "import sys, krait._ws.mailbox, krait._ws.handshake; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('twisted', 'autobahn')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
