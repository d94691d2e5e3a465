"""Query strings, Content-Type parameters and the streaming multipart/form-data parser."""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krait._forms import (
    MAX_ALL_PART_HEADER_BYTES,
    MAX_PART_HEADER_BYTES,
    MultipartError,
    Part,
    boundary_from_content_type,
    iter_multipart,
    parse_content_type,
)
from krait._query import parse_query


class TrickleStream(io.BytesIO):
    """A binary stream whose read() returns at most ``step`` bytes, like a slow socket."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self._step = step

    def read(self, size: int | None = -1) -> bytes:
        return super().read(self._step if size is None or size < 0 else min(size, self._step))


def random_boundary(seed: int) -> bytes:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "'()+_,-./:=?"
    return ("----" + "".join(rng.choice(alphabet) for _ in range(24))).encode()


def build_body(boundary: bytes, parts: list[tuple[bytes, bytes]], preamble: bytes = b"") -> bytes:
    """A multipart body from (header block, content) pairs."""
    body = preamble
    for headers, content in parts:
        body += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def parse(body: bytes, boundary: bytes = b"xyz", **kwargs: int) -> list[Part]:
    return list(iter_multipart(io.BytesIO(body), boundary, **kwargs))


def contents(parts: list[Part]) -> list[tuple[str, str | None, bytes]]:
    return [(part.name, part.filename, part.file.read()) for part in parts]


def held_in_memory(part: Part) -> bool:
    return isinstance(part.file, io.BytesIO)


# parse_query


def test_query_value_keeps_equals_signs_after_the_first() -> None:
    assert parse_query("a=b=c") == {"a": "b=c"}


def test_query_field_without_equals_has_empty_value() -> None:
    assert parse_query("a") == {"a": ""}


def test_query_plus_and_percent_20_both_decode_to_space() -> None:
    assert parse_query("q=hello+big%20world&k%2By=%2B") == {"q": "hello big world", "k+y": "+"}


def test_query_last_repeated_key_wins() -> None:
    assert parse_query("a=1&b=2&a=3") == {"a": "3", "b": "2"}


def test_empty_query_is_empty_dict() -> None:
    assert parse_query("") == {}


def test_query_skips_empty_fields() -> None:
    assert parse_query("a=1&&b=2&") == {"a": "1", "b": "2"}


def test_query_decodes_utf8_and_replaces_invalid_bytes() -> None:
    assert parse_query("x=%C3%A9&y=%FF") == {"x": "é", "y": "\ufffd"}


@given(st.text())
def test_parse_query_accepts_any_text(query: str) -> None:
    assert isinstance(parse_query(query), dict)


# parse_content_type and boundary_from_content_type


def test_content_type_is_lower_cased_with_parameters() -> None:
    assert parse_content_type("Multipart/Form-Data; Boundary=abc; charset=UTF-8") == (
        "multipart/form-data",
        {"boundary": "abc", "charset": "UTF-8"},
    )


def test_content_type_quoted_parameter_may_hold_semicolons_and_escapes() -> None:
    assert parse_content_type(r'form-data; name="a;b"; filename="say \"hi\".txt"') == (
        "form-data",
        {"name": "a;b", "filename": 'say "hi".txt'},
    )


def test_content_type_keeps_backslashes_that_escape_nothing() -> None:
    _, params = parse_content_type(r'form-data; filename="C:\Users\me\a.txt"')
    assert params["filename"] == r"C:\Users\me\a.txt"


def test_boundary_is_read_from_content_type() -> None:
    assert boundary_from_content_type("multipart/form-data; boundary=----abc123") == b"----abc123"


def test_boundary_may_be_quoted() -> None:
    assert boundary_from_content_type('multipart/form-data; boundary="a b:c"') == b"a b:c"


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        (None, "no Content-Type"),
        ("", "no Content-Type"),
        ("application/x-www-form-urlencoded", "not 'multipart/form-data'"),
        ("multipart/form-data", "no boundary"),
        ("multipart/form-data; boundary=", "no boundary"),
        ("multipart/form-data; boundary=" + "a" * 71, "invalid"),
        ("multipart/form-data; boundary=a\u00e9", "invalid"),
        ('multipart/form-data; boundary="ends in space "', "invalid"),
    ],
)
def test_bad_multipart_content_type_is_refused_with_reason(
    content_type: str | None, reason: str
) -> None:
    with pytest.raises(MultipartError, match=reason):
        boundary_from_content_type(content_type)


# iter_multipart: well-formed bodies

TRICKY_BODY_PARTS = [
    (b'Content-Disposition: form-data; name="field"', b"value"),
    (
        b'content-disposition: form-data; name="upload"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream",
        b"\r\n--not-quite\r\n-\r\n--\r\r\n\n" + bytes(range(256)),
    ),
    (b"Content-Disposition: form-data; name=empty", b""),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_multipart_parses_the_same_at_every_chunk_size(seed: int) -> None:
    boundary = random_boundary(seed)
    # Content that almost contains the delimiter, to cut it at every possible place.
    near_miss = b"\r\n--" + boundary[:-1] + b"\r\n-" + boundary
    parts = [*TRICKY_BODY_PARTS, (b"Content-Disposition: form-data; name=near", near_miss)]
    body = build_body(boundary, parts, preamble=b"ignored preamble\r\n")
    expected = [
        ("field", None, b"value"),
        ("upload", "a.bin", TRICKY_BODY_PARTS[1][1]),
        ("empty", None, b""),
        ("near", None, near_miss),
    ]
    for step in range(1, len(body) + 1):
        parsed = list(iter_multipart(TrickleStream(body, step), boundary))
        assert contents(parsed) == expected, f"chunk size {step}"


def test_multipart_part_attributes() -> None:
    body = build_body(b"xyz", TRICKY_BODY_PARTS)
    field, upload, empty = parse(body)
    assert (field.content_type, field.size, field.headers) == (
        "text/plain",
        5,
        {"content-disposition": 'form-data; name="field"'},
    )
    assert upload.content_type == "application/octet-stream"
    assert upload.size == len(TRICKY_BODY_PARTS[1][1])
    assert set(upload.headers) == {"content-disposition", "content-type"}
    assert (empty.name, empty.size) == ("empty", 0)


def test_multipart_file_is_rewound() -> None:
    (part,) = parse(build_body(b"xyz", [TRICKY_BODY_PARTS[0]]))
    assert part.file.tell() == 0


def test_multipart_boundary_on_first_line_needs_no_preamble() -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--'
    assert contents(parse(body)) == [("a", None, b"1")]


def test_multipart_ignores_epilogue_and_transport_padding() -> None:
    body = (
        b"preamble--xyz-ish\r\n--xyz \t\r\n"
        b'Content-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--\r\nepilogue\r\n--xyz\r\n'
    )
    assert contents(parse(body)) == [("a", None, b"1")]


def test_multipart_without_parts_is_empty() -> None:
    assert parse(b"--xyz--\r\n") == []


def test_multipart_header_names_are_case_insensitive_and_folded_lines_joined() -> None:
    body = build_body(
        b"xyz",
        [(b'CONTENT-DISPOSITION: form-data;\r\n name="a"\r\ncOnTeNt-TyPe: text/csv', b"1")],
    )
    (part,) = parse(body)
    assert (part.name, part.content_type) == ("a", "text/csv")


def test_multipart_extended_filename_wins_over_plain_filename() -> None:
    disposition = (
        b'Content-Disposition: form-data; name=f; filename="euro.txt"; '
        b"filename*=UTF-8''%E2%82%AC%20rates.txt"
    )
    (part,) = parse(build_body(b"xyz", [(disposition, b"")]))
    assert part.filename == "\u20ac rates.txt"


def test_multipart_unknown_extended_charset_falls_back_to_filename() -> None:
    disposition = b"Content-Disposition: form-data; name=f; filename=a.txt; filename*=rot13''n"
    (part,) = parse(build_body(b"xyz", [(disposition, b"")]))
    assert part.filename == "a.txt"


def test_multipart_raw_utf8_filename_is_decoded() -> None:
    disposition = 'Content-Disposition: form-data; name="f"; filename="résumé.pdf"'.encode()
    (part,) = parse(build_body(b"xyz", [(disposition, b"")]))
    assert part.filename == "résumé.pdf"


def test_large_part_is_spooled_to_disk(tmp_path: Path) -> None:
    size = 20 * 1024 * 1024
    path = tmp_path / "body"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        out.write(
            b'--xyz\r\nContent-Disposition: form-data; name="big"; filename="big.bin"\r\n\r\n'
        )
        block = bytes(range(256)) * 4096
        for _ in range(size // len(block)):
            out.write(block)
            digest.update(block)
        out.write(b"\r\n--xyz--\r\n")
    with path.open("rb") as stream:
        (part,) = iter_multipart(stream, b"xyz")
    assert part.size == size
    assert not held_in_memory(part)
    check = hashlib.sha256()
    while chunk := part.file.read(1 << 20):
        check.update(chunk)
    assert check.digest() == digest.digest()


def test_small_part_stays_in_memory() -> None:
    (part,) = parse(build_body(b"xyz", [TRICKY_BODY_PARTS[0]]))
    assert held_in_memory(part)


def sized_parts(*sizes: int) -> list[tuple[bytes, bytes]]:
    """File parts named p0, p1, ... with contents of these sizes, each one different."""
    return [
        (
            b'Content-Disposition: form-data; name="p%d"; filename="p%d.bin"' % (n, n),
            (b"%08d" % n * size)[:size],
        )
        for n, size in enumerate(sizes)
    ]


def test_memory_budget_is_for_the_whole_body_not_each_part() -> None:
    """Twenty parts of 100 bytes under a budget of 250: two stay in memory, not all twenty."""
    parts = sized_parts(*[100] * 20)
    parsed = parse(build_body(b"xyz", parts), memory_budget=250)
    assert [held_in_memory(part) for part in parsed] == [True, True] + [False] * 18
    assert [part.file.read() for part in parsed] == [content for _, content in parts]


def test_default_budget_keeps_one_mebibyte_of_many_smaller_parts_in_memory() -> None:
    parts = sized_parts(*[300 * 1024] * 8)
    parsed = parse(build_body(b"xyz", parts))
    assert [held_in_memory(part) for part in parsed] == [True] * 3 + [False] * 5
    assert sum(part.size for part in parsed if held_in_memory(part)) <= 1 << 20
    assert [part.file.read() for part in parsed] == [content for _, content in parts]


def test_a_part_too_big_for_what_is_left_goes_to_disk_and_smaller_ones_still_fit() -> None:
    parts = sized_parts(60, 50, 30)
    parsed = parse(build_body(b"xyz", parts), memory_budget=100)
    assert [held_in_memory(part) for part in parsed] == [True, False, True]
    assert [part.size for part in parsed] == [60, 50, 30]


def test_zero_budget_puts_every_nonempty_part_on_disk() -> None:
    parsed = parse(build_body(b"xyz", TRICKY_BODY_PARTS), memory_budget=0)
    assert [held_in_memory(part) for part in parsed] == [False, False, True]
    assert contents(parsed) == [
        ("field", None, b"value"),
        ("upload", "a.bin", TRICKY_BODY_PARTS[1][1]),
        ("empty", None, b""),
    ]


@pytest.mark.parametrize("step", [1, 7, 64, 1000])
def test_budget_holds_at_every_chunk_size(step: int) -> None:
    parts = sized_parts(*[40] * 6)
    body = build_body(b"xyz", parts)
    parsed = list(iter_multipart(TrickleStream(body, step), b"xyz", memory_budget=100))
    assert [held_in_memory(part) for part in parsed] == [True, True] + [False] * 4
    assert [part.file.read() for part in parsed] == [content for _, content in parts]


# iter_multipart: malformed bodies


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "before its first boundary"),
        (b"no boundary anywhere", "before its first boundary"),
        (b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1', "closing boundary"),
        (b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz', "boundary line"),
        (b"--xyz\r\nContent-Disposition: form-data; name=a", "inside a part header"),
        (b"--xyz", "boundary line"),
        (b"--xyzgarbage\r\n", "unexpected characters"),
        (b"--xyz\r\nContent-Type: text/plain\r\n\r\n\r\n--xyz--", "no Content-Disposition"),
        (b"--xyz\r\n\r\n\r\n--xyz--", "no Content-Disposition"),
        (b"--xyz\r\nContent-Disposition: form-data\r\n\r\n\r\n--xyz--", "no name"),
        (b"--xyz\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--xyz--", "not 'form-data'"),
        (b"--xyz\r\nnot a header\r\n\r\n\r\n--xyz--", "malformed multipart part header"),
        (b"--xyz\r\n folded: first\r\n\r\n\r\n--xyz--", "continuation"),
    ],
)
def test_malformed_multipart_raises_with_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MultipartError, match=reason):
        parse(body)


def test_oversized_part_headers_are_refused() -> None:
    headers = b"Content-Disposition: form-data; name=a\r\nX-Pad: " + b"p" * MAX_PART_HEADER_BYTES
    with pytest.raises(MultipartError, match="longer than"):
        parse(build_body(b"xyz", [(headers, b"1")]))


def padded_parts(count: int, header_bytes: int) -> list[tuple[bytes, bytes]]:
    """``count`` parts whose header blocks are ``header_bytes`` long each."""
    disposition = b"Content-Disposition: form-data; name=a\r\nX-Pad: "
    return [(disposition + b"p" * (header_bytes - len(disposition)), b"1")] * count


def test_part_headers_of_a_body_are_limited_together() -> None:
    """Headers stay in memory: a thousand parts of 16 KiB headers would hold 16 MiB."""
    count = MAX_ALL_PART_HEADER_BYTES // 8192
    assert len(parse(build_body(b"xyz", padded_parts(count, 8192)))) == count
    with pytest.raises(MultipartError, match="headers together are longer than 262144 bytes"):
        parse(build_body(b"xyz", padded_parts(count + 1, 8192)))


def test_too_many_parts_are_refused() -> None:
    body = build_body(b"xyz", [(b"Content-Disposition: form-data; name=a", b"1")] * 4)
    assert len(parse(body, max_parts=4)) == 4
    with pytest.raises(MultipartError, match="more than 3 parts"):
        parse(body, max_parts=3)


def test_empty_boundary_is_refused() -> None:
    with pytest.raises(MultipartError, match="empty"):
        parse(b"--\r\n", boundary=b"")


@given(st.binary(max_size=2000))
def test_multipart_on_arbitrary_bytes_raises_only_multipart_error(body: bytes) -> None:
    with contextlib.suppress(MultipartError):
        parse(body)


PIECES = [
    b"--xyz",
    b"--xyz--",
    b"\r\n",
    b"\r\n\r\n",
    b"Content-Disposition: form-data; name=a",
    b'content-disposition: form-data; name="b"; filename="c"',
    b"filename*=UTF-8''%E2%ff",
    b"Content-Type: x",
    b" ",
    b";",
    b'"',
    b":",
    b"\xff\xfe",
]


@settings(max_examples=300)
@given(
    st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=8)), max_size=40),
    st.integers(min_value=1, max_value=7),
)
def test_multipart_on_boundary_soup_raises_only_multipart_error(
    pieces: list[bytes], step: int
) -> None:
    with contextlib.suppress(MultipartError):
        list(iter_multipart(TrickleStream(b"".join(pieces), step), b"xyz"))
