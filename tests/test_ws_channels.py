"""The pure routing of channel messages: who gets what, and when a backend must listen."""

from __future__ import annotations

import pytest

from krait._ws.channels import (
    ChannelRegistry,
    Message,
    Subscriptions,
    checked_channel,
    checked_message,
    subscriptions_of,
)
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsCtrlBase


class Inbox:
    """A subscriber that keeps what it is handed."""

    def __init__(self, closed: bool = False) -> None:
        self.closed = closed
        self.messages: list[Message] = []

    def deliver(self, message: Message) -> None:
        self.messages.append(message)


class Link:
    """Records what a controller's subscriptions ask of their connection."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def join(self, channel: str) -> None:
        self.calls.append(("join", channel))

    def leave(self, channel: str) -> None:
        self.calls.append(("leave", channel))


def test_a_message_reaches_every_subscriber_of_its_channel_and_no_other() -> None:
    registry = ChannelRegistry()
    alice, bob, carol = Inbox(), Inbox(), Inbox()
    registry.subscribe("lobby", alice)
    registry.subscribe("lobby", bob)
    registry.subscribe("kitchen", carol)
    assert registry.fan_out("lobby", "hello") == 2
    assert (alice.messages, bob.messages, carol.messages) == (["hello"], ["hello"], [])


def test_subscribers_get_it_in_the_order_they_subscribed() -> None:
    registry = ChannelRegistry()
    inboxes = [Inbox() for _ in range(5)]
    for inbox in inboxes:
        registry.subscribe("room", inbox)
    assert registry.subscribers("room") == inboxes


def test_a_channel_nobody_subscribed_to_reaches_no_one() -> None:
    assert ChannelRegistry().fan_out("empty", b"x") == 0


def test_only_the_first_subscriber_of_a_channel_starts_listening() -> None:
    registry = ChannelRegistry()
    first, second = Inbox(), Inbox()
    assert registry.subscribe("room", first) is True
    assert registry.subscribe("room", second) is False
    assert registry.subscribe("room", first) is False  # again: a no-op


def test_subscribing_twice_delivers_once() -> None:
    registry = ChannelRegistry()
    inbox = Inbox()
    registry.subscribe("room", inbox)
    registry.subscribe("room", inbox)
    registry.fan_out("room", "once")
    assert inbox.messages == ["once"]


def test_only_the_last_subscriber_leaving_stops_listening() -> None:
    registry = ChannelRegistry()
    first, second = Inbox(), Inbox()
    registry.subscribe("room", first)
    registry.subscribe("room", second)
    assert registry.unsubscribe("room", first) is False
    assert registry.unsubscribe("room", first) is False  # not on it any more
    assert registry.unsubscribe("room", second) is True
    assert registry.channels == []


def test_unsubscribing_from_a_channel_never_joined_is_a_no_op() -> None:
    assert ChannelRegistry().unsubscribe("nowhere", Inbox()) is False


def test_an_unsubscribed_connection_gets_nothing_more() -> None:
    registry = ChannelRegistry()
    stays, leaves = Inbox(), Inbox()
    registry.subscribe("room", stays)
    registry.subscribe("room", leaves)
    registry.unsubscribe("room", leaves)
    registry.fan_out("room", "after")
    assert (stays.messages, leaves.messages) == (["after"], [])


def test_dropping_a_closed_connection_names_the_channels_it_emptied() -> None:
    registry = ChannelRegistry()
    closing, other = Inbox(), Inbox()
    for channel in ("b", "a", "shared"):
        registry.subscribe(channel, closing)
    registry.subscribe("shared", other)
    assert registry.drop(closing) == ["a", "b"]
    assert registry.channels == ["shared"]
    assert registry.channels_of(closing) == frozenset()
    assert registry.drop(closing) == []


def test_a_subscriber_that_unsubscribes_while_it_takes_a_message_does_not_upset_the_rest() -> None:
    registry = ChannelRegistry()

    class Leaver(Inbox):
        def deliver(self, message: Message) -> None:
            super().deliver(message)
            registry.unsubscribe("room", self)

    leaver, stays = Leaver(), Inbox()
    registry.subscribe("room", leaver)
    registry.subscribe("room", stays)
    assert registry.fan_out("room", "m") == 2
    assert stays.messages == ["m"]
    assert registry.subscribers("room") == [stays]


@pytest.mark.parametrize("name", ["lobby", "chat:room-42", "é", "x" * 256])
def test_channel_names_are_non_empty_strings_of_at_most_256_characters(name: str) -> None:
    assert checked_channel(name) == name


@pytest.mark.parametrize("name", ["", "x" * 257])
def test_an_empty_or_too_long_channel_name_is_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match="1 to 256 characters"):
        checked_channel(name)


def test_a_channel_name_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="a channel name is a str"):
        checked_channel(b"room")


def test_text_stays_text_and_bytes_like_messages_become_bytes() -> None:
    assert checked_message("hi") == "hi"
    assert checked_message(b"\x00\x01") == b"\x00\x01"
    assert checked_message(bytearray(b"ab")) == b"ab"
    assert type(checked_message(memoryview(b"cd"))) is bytes


@pytest.mark.parametrize("message", [None, 42, {"text": "hi"}, ["a"]])
def test_a_message_that_is_neither_text_nor_bytes_is_refused_with_a_hint(message: object) -> None:
    with pytest.raises(TypeError, match=r"json\.dumps"):
        checked_message(message)


def test_subscriptions_asked_for_before_the_link_are_joined_when_it_comes() -> None:
    subscriptions = Subscriptions()
    subscriptions.add("b")
    subscriptions.add("a")
    subscriptions.add("gone")
    subscriptions.remove("gone")
    link = Link()
    assert list(subscriptions.link(link)) == ["a", "b"]
    assert link.calls == []  # the caller joins what link() returned


def test_linked_subscriptions_join_and_leave_at_once_and_only_on_change() -> None:
    subscriptions = Subscriptions()
    link = Link()
    subscriptions.link(link)
    subscriptions.add("room")
    subscriptions.add("room")
    subscriptions.remove("room")
    subscriptions.remove("room")
    assert link.calls == [("join", "room"), ("leave", "room")]


def test_after_the_end_nothing_is_joined_or_linked_again() -> None:
    subscriptions = Subscriptions()
    link = Link()
    subscriptions.link(link)
    subscriptions.end()
    subscriptions.add("late")
    assert link.calls == []
    assert list(subscriptions.link(link)) == []
    assert subscriptions.names == frozenset({"late"})


@pytest.mark.parametrize("kind", [WebsocketsCtrlBase, WebsocketsAsyncCtrlBase])
def test_a_controller_remembers_its_channels_before_any_server_serves_it(kind: type) -> None:
    ctrl = kind()
    ctrl.subscribe("lobby")
    ctrl.subscribe("news")
    ctrl.unsubscribe("news")
    assert ctrl.subscriptions == frozenset({"lobby"})
    assert subscriptions_of(ctrl) is subscriptions_of(ctrl)


def test_a_controller_that_skips_the_base_init_can_still_subscribe() -> None:
    class Bare(WebsocketsAsyncCtrlBase):
        def __init__(self) -> None:
            self.room = "lobby"

    ctrl = Bare()
    ctrl.subscribe(ctrl.room)
    assert ctrl.subscriptions == frozenset({"lobby"})


def test_a_controller_refuses_a_bad_channel_name_at_once() -> None:
    with pytest.raises(ValueError, match="1 to 256"):
        WebsocketsCtrlBase().subscribe("")
