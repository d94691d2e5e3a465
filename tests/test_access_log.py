"""Access-log lines: the combined format, and no way for a client to forge a line."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from krait._access_log import (
    combined_line,
    escape_field,
    iso_time,
    json_access_line,
    record_lines,
)


def test_plain_fields_are_kept_as_they_are() -> None:
    assert escape_field(b"/index.html?a=1&b=2") == "/index.html?a=1&b=2"


def test_quotes_backslashes_and_control_bytes_are_escaped() -> None:
    assert escape_field(b'a"b\\c\r\n\x00\xff') == 'a\\"b\\\\c\\x0d\\x0a\\x00\\xff'


def test_text_is_escaped_as_its_utf8_bytes() -> None:
    assert escape_field("é") == "\\xc3\\xa9"


def test_combined_line_has_the_standard_fields_in_order() -> None:
    line = combined_line(
        "127.0.0.1",
        "[22/Nov/2026:16:00:00 +0000]",
        (b"GET", b"/x", b"HTTP/1.1"),
        200,
        1234,
        b"http://ref/",
        b"curl/8",
    )
    assert line == (
        '127.0.0.1 - - [22/Nov/2026:16:00:00 +0000] "GET /x HTTP/1.1" 200 1234 '
        '"http://ref/" "curl/8"'
    )


def test_missing_headers_and_empty_bodies_are_dashes() -> None:
    line = combined_line("::1", "[t]", (b"HEAD", b"/", b"HTTP/1.0"), 304, 0, None, None)
    assert line.endswith('"HEAD / HTTP/1.0" 304 - "-" "-"')


def test_records_become_the_same_lines_one_per_record() -> None:
    record = ("::1", "[t]", b"GET", b'/"x', b"HTTP/1.1", 200, 5, None, b"curl/8")
    text = record_lines([record, record])
    line = combined_line("::1", "[t]", (b"GET", b'/"x', b"HTTP/1.1"), 200, 5, None, b"curl/8")
    assert text == f"{line}\n{line}\n"


@given(st.binary())
def test_an_escaped_field_never_holds_a_quote_or_line_break(raw: bytes) -> None:
    text = escape_field(raw)
    assert "\n" not in text and "\r" not in text
    assert '"' not in text.replace('\\"', "")
    assert all(0x20 <= ord(c) < 0x7F for c in text)


def test_combined_timestamps_become_iso_8601() -> None:
    assert iso_time("[22/Nov/2026:16:00:00 +0000]") == "2026-11-22T16:00:00+00:00"
    assert iso_time("[01/Feb/2026:01:02:03 -0130]") == "2026-02-01T01:02:03-01:30"
    assert iso_time("-") == "-"


def test_a_json_access_line_has_the_combined_line_and_each_field() -> None:
    line = json_access_line(
        "::1",
        "[22/Nov/2026:16:00:00 +0000]",
        (b"GET", b'/a"\xff', b"HTTP/1.1"),
        404,
        0,
        None,
        b"curl/8",
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-22T16:00:00+00:00",
        "level": "info",
        "namespace": "krait.access",
        "message": (
            '::1 - - [22/Nov/2026:16:00:00 +0000] "GET /a\\"\\xff HTTP/1.1" 404 - "-" "curl/8"'
        ),
        "host": "::1",
        "method": "GET",
        "target": '/a"\\xff',
        "protocol": "HTTP/1.1",
        "status": 404,
        "length": 0,
        "referrer": None,
        "agent": "curl/8",
    }


@given(st.binary())
def test_a_json_access_line_is_always_one_line_of_json(raw: bytes) -> None:
    line = json_access_line("h", "[t]", (raw, raw, raw), 200, 1, raw, raw)
    assert "\n" not in line and "\r" not in line
    assert json.loads(line)["method"] == raw.decode("utf-8", "backslashreplace")


_FIELD = st.one_of(st.none(), st.binary(max_size=12), st.sampled_from([b"-", b"curl/8", b'a"b']))


@given(
    st.lists(
        st.tuples(st.binary(max_size=8), st.binary(max_size=16), _FIELD, _FIELD, st.integers(0, 9)),
        max_size=6,
    )
)
def test_a_batch_of_records_gives_each_record_its_own_combined_line(
    fields: list[tuple[bytes, bytes, bytes | None, bytes | None, int]],
) -> None:
    # The batch path escapes a request line whole and repeated headers once per batch;
    # the text must be exactly combined_line's, line by line, whatever the bytes.
    records = [
        ("::1", "[t]", method, target, b"HTTP/1.1", 200, length, referrer, agent)
        for method, target, referrer, agent, length in fields
    ]
    expected = "".join(
        combined_line(host, stamp, (method, target, proto), status, length, referrer, agent) + "\n"
        for host, stamp, method, target, proto, status, length, referrer, agent in records
    )
    assert record_lines(records) == expected


def test_a_served_request_is_logged_with_its_last_referer_and_agent_whatever_their_case() -> None:
    # The site reads Referer and User-Agent from the header table by canonical name: a
    # client's lower-case names must still land there, and the last of repeated values wins.
    import io

    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import MemoryReactorClock, StringTransport
    from twisted.web.resource import Resource

    from krait._http import KraitSite

    class Page(Resource):
        isLeaf = True

        def render_GET(self, request: object) -> bytes:
            return b"hello"

    root = Page()
    out = io.StringIO()
    site = KraitSite(root, access_log=out, reactor=MemoryReactorClock())
    site.doStart()
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1234))
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(
        b'GET /page?q=%22 HTTP/1.1\r\nHost: x\r\nuser-agent: first\r\nUSER-AGENT: a"b\r\n'
        b"referer: http://r/\r\n\r\n"
    )
    site.doStop()
    line = out.getvalue()
    assert line.startswith("192.168.1.1 - - [")  # StringTransport's peer
    assert line.endswith('] "GET /page?q=%22 HTTP/1.1" 200 5 "http://r/" "a\\"b"\n')
