"""Request body framing from plain header values: what is refused and why (RFC 9112 §6)."""

from __future__ import annotations

import pytest

from krait._framing import BadFraming, UnsupportedTransferCoding, body_length


def test_no_framing_header_means_no_body() -> None:
    assert body_length(None, None) == 0


def test_content_length_gives_the_length() -> None:
    assert body_length(None, [b"42"]) == 42


def test_chunked_gives_no_length() -> None:
    assert body_length([b"chunked"], None) is None


def test_coding_names_are_case_insensitive_and_empty_list_elements_ignored() -> None:
    assert body_length([b" , Chunked ,"], None) is None


@pytest.mark.parametrize(
    "lines",
    [
        [b"identity"],  # the body would be read as the next request
        [b"gzip"],
        [b"chunked", b"identity"],  # split over two lines, the final coding is identity
        [b"chunked, gzip"],
        [b""],
        [b"chunked;ext=1"],  # chunked takes no parameters
        [b"chun ked"],
    ],
)
def test_transfer_encoding_not_ending_in_chunked_is_bad_framing(lines: list[bytes]) -> None:
    with pytest.raises(BadFraming):
        body_length(lines, None)


@pytest.mark.parametrize("lines", [[b"chunked, chunked"], [b"chunked", b"chunked"]])
def test_chunked_twice_is_bad_framing(lines: list[bytes]) -> None:
    with pytest.raises(BadFraming, match="more than once"):
        body_length(lines, None)


@pytest.mark.parametrize(
    "lines", [[b"gzip, chunked"], [b"gzip", b"chunked"], [b"deflate;level=9", b"chunked"]]
)
def test_coding_before_chunked_is_not_implemented_and_named(lines: list[bytes]) -> None:
    with pytest.raises(UnsupportedTransferCoding) as raised:
        body_length(lines, None)
    assert raised.value.coding in ("gzip", "deflate")
    assert "chunked" in str(raised.value)


def test_both_transfer_encoding_and_content_length_is_bad_framing() -> None:
    with pytest.raises(BadFraming, match="both"):
        body_length([b"chunked"], [b"5"])


@pytest.mark.parametrize("value", [b"", b"-1", b"+5", b"5 5", b"0x10", b"\xd9\xa3", b"5.0"])
def test_content_length_must_be_digits(value: bytes) -> None:
    with pytest.raises(BadFraming, match="decimal number"):
        body_length(None, [value])


def test_content_length_of_thousands_of_digits_is_bad_framing_without_converting_it() -> None:
    """int() would refuse 4,300+ digits with a ValueError of its own."""
    with pytest.raises(BadFraming) as raised:
        body_length(None, [b"1" * 5000])
    assert len(str(raised.value)) < 200


def test_content_length_of_eighteen_digits_is_the_longest_accepted() -> None:
    assert body_length(None, [b"9" * 18]) == 10**18 - 1
    with pytest.raises(BadFraming):
        body_length(None, [b"1" * 19])


@pytest.mark.parametrize("lines", [[b"5", b"6"], [b"5, 6"]])
def test_differing_content_lengths_are_bad_framing(lines: list[bytes]) -> None:
    with pytest.raises(BadFraming, match="differing"):
        body_length(None, lines)


@pytest.mark.parametrize("lines", [[b"5", b"5"], [b"5, 5"], [b"5, 05"]])
def test_repeated_equal_content_lengths_stand_for_one(lines: list[bytes]) -> None:
    """RFC 9110 §8.6 lets a recipient read "42, 42" as 42."""
    assert body_length(None, lines) == 5
