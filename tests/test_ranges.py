"""Range and If-Range parsing, Content-Range and multipart/byteranges (krait._ranges)."""

from __future__ import annotations

import email.parser
import email.policy
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krait._caching import http_date
from krait._ranges import (
    COALESCE_GAP,
    MAX_RANGES,
    ByteRange,
    UnsatisfiableRange,
    content_range,
    if_range_matches,
    make_boundary,
    multipart_parts,
    parse_range,
    unsatisfied_content_range,
)

ETAG = '"1a-400-17f"'
LAST_MODIFIED = 784111777


def test_no_header_means_no_ranges() -> None:
    assert parse_range(None, 100) is None


def test_closed_range_is_inclusive() -> None:
    assert parse_range("bytes=0-99", 1000) == [ByteRange(0, 99)]
    assert ByteRange(0, 99).length == 100


def test_single_byte_range() -> None:
    assert parse_range("bytes=5-5", 10) == [ByteRange(5, 5)]


def test_open_ended_range_runs_to_the_end() -> None:
    assert parse_range("bytes=900-", 1000) == [ByteRange(900, 999)]


def test_open_range_from_zero_is_the_whole_file() -> None:
    assert parse_range("bytes=0-", 1000) == [ByteRange(0, 999)]


def test_suffix_range_counts_from_the_end() -> None:
    assert parse_range("bytes=-100", 1000) == [ByteRange(900, 999)]


def test_suffix_range_longer_than_file_means_whole_file() -> None:
    assert parse_range("bytes=-5000", 1000) == [ByteRange(0, 999)]


def test_end_beyond_the_file_is_clamped() -> None:
    assert parse_range("bytes=500-5000", 1000) == [ByteRange(500, 999)]


def test_huge_numbers_are_clamped_not_rejected() -> None:
    huge = "9" * 5000
    assert parse_range(f"bytes=10-{huge}", 100) == [ByteRange(10, 99)]
    assert parse_range(f"bytes=-{huge}", 100) == [ByteRange(0, 99)]
    assert parse_range("bytes=000000000000000000000000000000010-20", 100) == [ByteRange(10, 20)]


def test_huge_start_is_unsatisfiable() -> None:
    with pytest.raises(UnsatisfiableRange):
        parse_range(f"bytes={'9' * 5000}-", 100)


def test_multiple_distant_ranges_stay_separate() -> None:
    assert parse_range("bytes=0-9,500-599", 1000) == [ByteRange(0, 9), ByteRange(500, 599)]


def test_ranges_are_returned_in_order() -> None:
    assert parse_range("bytes=500-599,0-9", 1000) == [ByteRange(0, 9), ByteRange(500, 599)]


def test_overlapping_ranges_are_coalesced() -> None:
    assert parse_range("bytes=0-499,200-699", 1000) == [ByteRange(0, 699)]
    assert parse_range("bytes=0-99,-950", 1000) == [ByteRange(0, 999)]


def test_adjacent_ranges_are_coalesced() -> None:
    assert parse_range("bytes=0-9,10-19", 1000) == [ByteRange(0, 19)]


def test_ranges_closer_than_the_gap_are_coalesced() -> None:
    close = f"bytes=0-9,{10 + COALESCE_GAP}-{20 + COALESCE_GAP}"
    assert parse_range(close, 1000) == [ByteRange(0, 20 + COALESCE_GAP)]
    far = f"bytes=0-9,{11 + COALESCE_GAP}-{20 + COALESCE_GAP}"
    assert parse_range(far, 1000) == [
        ByteRange(0, 9),
        ByteRange(11 + COALESCE_GAP, 20 + COALESCE_GAP),
    ]


def test_repeated_ranges_do_not_multiply_the_response() -> None:
    assert parse_range("bytes=" + ",".join(["0-"] * 1000), 1000) == [ByteRange(0, 999)]


def test_too_many_ranges_become_one_spanning_range() -> None:
    step = COALESCE_GAP + 10
    specs = ",".join(f"{i * step}-{i * step}" for i in range(MAX_RANGES + 1))
    assert parse_range(f"bytes={specs}", 10**6) == [ByteRange(0, MAX_RANGES * step)]


def test_as_many_ranges_as_allowed_stay_separate() -> None:
    step = COALESCE_GAP + 10
    specs = ",".join(f"{i * step}-{i * step}" for i in range(MAX_RANGES))
    ranges = parse_range(f"bytes={specs}", 10**6)
    assert ranges is not None
    assert len(ranges) == MAX_RANGES


def test_whitespace_around_list_items_is_tolerated() -> None:
    assert parse_range("bytes= 0-9 ,\t500-599 , ", 1000) == [ByteRange(0, 9), ByteRange(500, 599)]


def test_empty_list_items_are_ignored() -> None:
    assert parse_range("bytes=,0-9,,", 1000) == [ByteRange(0, 9)]


def test_unit_is_case_insensitive() -> None:
    assert parse_range("Bytes=0-9", 1000) == [ByteRange(0, 9)]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "items=0-9",
        "bytes 0-9",
        "bytes=5-2",
        "bytes=-",
        "bytes=a-b",
        "bytes=0-9,x",
        "bytes=0-9,5-2",
        "bytes=+1-5",
        "bytes=1 - 5",
        "bytes=0--5",
        "bytes=0-9-",
        "bytes=0x10-20",
        "bytes=\u0661-\u0665",  # Arabic-Indic digits
    ],
)
def test_invalid_headers_are_ignored(header: str) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=500-", "bytes=100-200", "bytes=-0", "bytes=100-,-0"])
def test_ranges_outside_the_file_are_unsatisfiable(header: str) -> None:
    with pytest.raises(UnsatisfiableRange) as caught:
        parse_range(header, 100)
    assert caught.value.size == 100


def test_unsatisfiable_ranges_are_dropped_when_another_is_satisfiable() -> None:
    assert parse_range("bytes=500-600,0-9,-0", 100) == [ByteRange(0, 9)]


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=-0", "bytes=5-10"])
def test_any_position_range_on_an_empty_file_is_unsatisfiable(header: str) -> None:
    with pytest.raises(UnsatisfiableRange) as caught:
        parse_range(header, 0)
    assert caught.value.size == 0


def test_suffix_range_on_an_empty_file_sends_the_whole_empty_file() -> None:
    """RFC 9110 §14.1.2 counts it as satisfiable, but no byte range can express it."""
    assert parse_range("bytes=-10", 0) is None


def _check_ranges(ranges: list[ByteRange], size: int) -> None:
    assert 1 <= len(ranges) <= MAX_RANGES
    for r in ranges:
        assert 0 <= r.start <= r.end <= size - 1
    for before, after in itertools.pairwise(ranges):
        assert before.end + 1 + COALESCE_GAP < after.start


_range_like_headers = st.one_of(
    st.text(),
    st.text(alphabet="0123456789-, \t").map(lambda specs: "bytes=" + specs),
    st.text(alphabet="0123456789-,=bytesBYTES \t\u0661"),
)


@given(_range_like_headers, st.integers(min_value=0, max_value=2**63))
def test_arbitrary_headers_give_ranges_within_the_file_or_unsatisfiable(
    header: str, size: int
) -> None:
    try:
        ranges = parse_range(header, size)
    except UnsatisfiableRange:
        return
    if ranges is not None:
        _check_ranges(ranges, size)


_specs = st.tuples(
    st.one_of(st.none(), st.integers(min_value=0, max_value=3000)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3000)),
).filter(lambda spec: spec != (None, None))


@given(st.lists(_specs, min_size=1, max_size=100), st.integers(min_value=0, max_value=2000))
def test_well_formed_headers_cover_every_requested_byte(
    specs: list[tuple[int | None, int | None]], size: int
) -> None:
    header = "bytes=" + ",".join(
        f"{'' if a is None else a}-{'' if b is None else b}" for a, b in specs
    )
    wanted: set[int] = set()
    for first, last in specs:
        if first is None:
            wanted.update(range(max(size - (last or 0), 0), size) if last else ())
        elif last is None or last >= first:
            wanted.update(range(first, min(last if last is not None else size, size - 1) + 1))
    try:
        ranges = parse_range(header, size)
    except UnsatisfiableRange:
        assert not wanted
        return
    if ranges is None:
        assert any(a is not None and b is not None and b < a for a, b in specs) or size == 0
        return
    _check_ranges(ranges, size)
    covered = {i for r in ranges for i in range(r.start, r.end + 1)}
    assert wanted <= covered


# If-Range (RFC 9110 §13.1.5).


def test_no_if_range_lets_the_range_apply() -> None:
    assert if_range_matches(None, ETAG, LAST_MODIFIED)


def test_if_range_with_the_current_strong_tag_matches() -> None:
    assert if_range_matches(ETAG, ETAG, LAST_MODIFIED)
    assert if_range_matches(f" {ETAG} ", ETAG, None)


def test_if_range_with_another_tag_does_not_match() -> None:
    assert not if_range_matches('"other"', ETAG, LAST_MODIFIED)


def test_if_range_with_a_weak_tag_never_matches() -> None:
    assert not if_range_matches(f"W/{ETAG}", ETAG, LAST_MODIFIED)
    assert not if_range_matches('W/"a"', 'W/"a"', LAST_MODIFIED)


def test_if_range_tag_without_a_current_tag_does_not_match() -> None:
    assert not if_range_matches(ETAG, None, LAST_MODIFIED)


def test_if_range_with_a_tag_list_does_not_match() -> None:
    assert not if_range_matches(f"{ETAG}, {ETAG}", ETAG, LAST_MODIFIED)


def test_if_range_with_the_exact_modification_date_matches() -> None:
    assert if_range_matches(http_date(LAST_MODIFIED), ETAG, LAST_MODIFIED)
    assert if_range_matches("Sunday, 06-Nov-94 08:49:37 GMT", None, LAST_MODIFIED)


def test_if_range_with_another_date_does_not_match() -> None:
    assert not if_range_matches(http_date(LAST_MODIFIED + 1), ETAG, LAST_MODIFIED)
    assert not if_range_matches(http_date(LAST_MODIFIED - 1), ETAG, LAST_MODIFIED)


def test_if_range_date_without_a_modification_time_does_not_match() -> None:
    assert not if_range_matches(http_date(LAST_MODIFIED), ETAG, None)


@pytest.mark.parametrize("value", ["", "garbage", '"unterminated', "W/", "*"])
def test_malformed_if_range_does_not_match(value: str) -> None:
    assert not if_range_matches(value, ETAG, LAST_MODIFIED)


# Content-Range and multipart/byteranges.


def test_content_range_names_inclusive_positions_and_size() -> None:
    assert content_range(ByteRange(0, 99), 1234) == "bytes 0-99/1234"


def test_unsatisfied_content_range_names_only_the_size() -> None:
    assert unsatisfied_content_range(1234) == "bytes */1234"


def test_boundaries_are_fresh_and_valid() -> None:
    first, second = make_boundary(), make_boundary()
    assert first != second
    assert 1 <= len(first) <= 70
    assert first.isascii() and first.isalnum()


FILE = bytes(range(256)) * 8
"""A 2048-byte file whose bytes include CR, LF and dashes."""


def _assemble(parts: list[bytes | ByteRange]) -> bytes:
    return b"".join(
        part if isinstance(part, bytes) else FILE[part.start : part.end + 1] for part in parts
    )


def test_multipart_body_alternates_literals_and_ranges() -> None:
    ranges = [ByteRange(0, 9), ByteRange(500, 599)]
    parts, _ = multipart_parts(ranges, len(FILE), "image/png", "XYZ")
    assert [type(part) for part in parts] == [bytes, ByteRange, bytes, ByteRange, bytes]
    assert [part for part in parts if isinstance(part, ByteRange)] == ranges


def test_multipart_body_is_framed_exactly() -> None:
    parts, length = multipart_parts(
        [ByteRange(0, 2), ByteRange(10, 11)], 20, "text/plain; charset=utf-8", "B"
    )
    body = b"".join(part if isinstance(part, bytes) else b"x" * part.length for part in parts)
    assert body == (
        b"--B\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Range: bytes 0-2/20\r\n"
        b"\r\n"
        b"xxx"
        b"\r\n--B\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Range: bytes 10-11/20\r\n"
        b"\r\n"
        b"xx"
        b"\r\n--B--\r\n"
    )
    assert length == len(body)


def test_multipart_parts_omit_an_empty_content_type() -> None:
    parts, _ = multipart_parts([ByteRange(0, 0)], 1, "", "B")
    assert parts[0] == b"--B\r\nContent-Range: bytes 0-0/1\r\n\r\n"


def test_multipart_body_parses_back_to_the_requested_bytes() -> None:
    ranges = [ByteRange(0, 9), ByteRange(300, 700), ByteRange(2000, 2047)]
    boundary = make_boundary()
    parts, length = multipart_parts(ranges, len(FILE), "application/octet-stream", boundary)
    body = _assemble(parts)
    assert length == len(body)
    head = f"Content-Type: multipart/byteranges; boundary={boundary}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert message.is_multipart()
    received = list(message.iter_parts())
    assert [part["Content-Range"] for part in received] == [
        content_range(r, len(FILE)) for r in ranges
    ]
    assert all(part["Content-Type"] == "application/octet-stream" for part in received)


def test_multipart_body_splits_on_its_delimiters_into_exact_bytes() -> None:
    ranges = [ByteRange(0, 255), ByteRange(1000, 1500)]
    boundary = make_boundary()
    parts, _ = multipart_parts(ranges, len(FILE), "application/octet-stream", boundary)
    body = _assemble(parts)
    delimiter = f"\r\n--{boundary}".encode()
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"{delimiter.decode()}--\r\n".encode())
    sections = (b"\r\n" + body).split(delimiter)
    assert sections[0] == b"" and sections[-1] == b"--\r\n"
    for section, r in zip(sections[1:-1], ranges, strict=True):
        headers, _, data = section.partition(b"\r\n\r\n")
        assert headers.endswith(f"Content-Range: {content_range(r, len(FILE))}".encode())
        assert data == FILE[r.start : r.end + 1]


def test_multipart_needs_at_least_one_range() -> None:
    with pytest.raises(ValueError, match="at least one range"):
        multipart_parts([], 10, "text/plain", "B")
