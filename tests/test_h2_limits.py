"""The HTTP/2 frame meter: frame headers read as bytes arrive, limits enforced before parsing."""

from __future__ import annotations

import pytest
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame, SettingsFrame

from krait._h2_limits import (
    MAX_HEADER_BLOCK_SIZE,
    MAX_HEADER_LIST_SIZE,
    FrameMeter,
    FrameTooLarge,
    HeaderBlockTooLarge,
)
from krait._http import KraitChannel

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def headers(size: int, *, end_headers: bool, stream_id: int = 1) -> bytes:
    frame = HeadersFrame(stream_id, data=b"\x00" * size)
    if end_headers:
        frame.flags.add("END_HEADERS")
    return bytes(frame.serialize())


def continuation(size: int, *, end_headers: bool = False) -> bytes:
    frame = ContinuationFrame(1, data=b"\x00" * size)
    if end_headers:
        frame.flags.add("END_HEADERS")
    return bytes(frame.serialize())


def data(size: int) -> bytes:
    return bytes(DataFrame(1, data=b"x" * size).serialize())


def feed_bytewise(meter: FrameMeter, stream: bytes) -> None:
    for index in range(len(stream)):
        meter.feed(stream[index : index + 1])


def test_an_ordinary_connection_passes_in_any_chunking() -> None:
    stream = (
        PREFACE
        + bytes(SettingsFrame(0).serialize())
        + headers(300, end_headers=True)
        + data(16_384)
        + headers(100, end_headers=False, stream_id=3)
        + continuation(16_000)
        + continuation(50, end_headers=True)
    )
    FrameMeter().feed(stream)
    feed_bytewise(FrameMeter(), stream)


def test_a_continuation_flood_is_refused_once_the_block_passes_the_limit() -> None:
    meter = FrameMeter()
    meter.feed(PREFACE + headers(16_384, end_headers=False))
    sent = 16_384
    with pytest.raises(HeaderBlockTooLarge) as refused:
        while sent < 10 * MAX_HEADER_BLOCK_SIZE:
            meter.feed(continuation(16_384))
            sent += 16_384
    assert sent <= MAX_HEADER_BLOCK_SIZE < sent + 16_384  # the frame that crossed it
    assert refused.value.error_code == 0xB  # ENHANCE_YOUR_CALM


def test_the_block_limit_counts_each_block_on_its_own() -> None:
    meter = FrameMeter()
    meter.feed(PREFACE)
    for stream_id in range(1, 200, 2):
        meter.feed(headers(16_000, end_headers=False, stream_id=stream_id))
        meter.feed(continuation(16_000, end_headers=True))


def test_a_frame_over_the_maximum_size_is_refused_at_its_header() -> None:
    """h2 itself would first hold the whole announced payload (up to 16 MiB)."""
    meter = FrameMeter()
    announced = (1 << 24) - 1
    header = announced.to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01"
    with pytest.raises(FrameTooLarge) as refused:
        meter.feed(PREFACE + header)
    assert refused.value.error_code == 0x6  # FRAME_SIZE_ERROR
    assert "16777215" in str(refused.value)


def test_payloads_are_skipped_not_read_as_headers() -> None:
    """A DATA payload that looks like frame headers does not count as frames."""
    fake = ((1 << 24) - 1).to_bytes(3, "big") + b"\x09\x00\x00\x00\x00\x01"
    payload = fake * 1000
    FrameMeter().feed(PREFACE + bytes(DataFrame(1, data=payload[:16_384]).serialize()))


def test_the_header_list_limit_is_the_http1_head_limit() -> None:
    assert KraitChannel.totalHeadersSize == MAX_HEADER_LIST_SIZE


def test_the_meter_knows_when_a_frame_is_half_received() -> None:
    meter = FrameMeter()
    assert not meter.frame_open
    meter.feed(PREFACE[:5])
    assert meter.frame_open  # the preface counts as one
    meter.feed(PREFACE[5:])
    assert not meter.frame_open
    frame = data(100)
    meter.feed(frame[:4])
    assert meter.frame_open and meter.frames_started == 1
    meter.feed(frame[4:50])
    assert meter.frame_open and meter.frames_started == 1
    meter.feed(frame[50:])
    assert not meter.frame_open


def test_the_meter_knows_when_a_header_block_is_open() -> None:
    meter = FrameMeter()
    meter.feed(PREFACE + headers(10, end_headers=False))
    assert meter.header_block_open and not meter.frame_open
    meter.feed(continuation(10))
    assert meter.header_block_open
    meter.feed(continuation(10, end_headers=True))
    assert not meter.header_block_open
    meter.feed(headers(0, end_headers=True))
    assert not meter.header_block_open
    assert meter.frames_started == 4
