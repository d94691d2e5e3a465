"""The server log: levels, text and JSON lines, access lines with one timestamp, under twistd."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, start_server, write_site
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.python.logfile import LogFile

from krait._access_log import ACCESS_NAMESPACE
from krait._log_output import (
    AccessLogEvents,
    LogFormat,
    format_json,
    format_text,
    krait_observer,
    twistd_log_stream,
)
from krait._stdlib_log import TwistedLogHandler, forward_stdlib_logging

ACCESS_EVENT = {
    "log_namespace": ACCESS_NAMESPACE,
    "log_level": LogLevel.info,
    "log_format": "{line}",
    "line": '127.0.0.1 - - [22/Nov/2026:16:00:00 +0000] "GET / HTTP/1.1" 200 4 "-" "-"',
    "log_time": 1.0,
}


def event(level: LogLevel = LogLevel.info, text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "log_namespace": "krait",
        "log_level": level,
        "log_format": "{text}",
        "text": text,
        "log_time": 1_700_000_000.25,
        **extra,
    }


def test_an_access_line_is_written_as_it_is_in_either_format() -> None:
    assert format_text(ACCESS_EVENT) == ACCESS_EVENT["line"] + "\n"
    assert format_json(ACCESS_EVENT) == ACCESS_EVENT["line"] + "\n"


def test_other_events_are_twistd_s_classic_text() -> None:
    assert format_text(event()) is not None
    assert str(format_text(event())).endswith(" [krait#info] hello\n")


def test_a_json_line_has_time_level_namespace_and_message() -> None:
    line = format_json(event(LogLevel.warn, 'a "quoted"\nline'))
    assert line is not None and line.endswith("}\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "time": "2023-11-14T22:13:20.250+00:00",
        "level": "warn",
        "namespace": "krait",
        "message": 'a "quoted"\nline',
    }


def test_a_json_line_carries_the_traceback_of_a_failure() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        failure = Failure()
    record = json.loads(str(format_json(event(LogLevel.error, "oops", log_failure=failure))))
    assert record["message"] == "oops"
    assert "ValueError: broken" in record["traceback"]


def written(level: LogLevel, log_format: LogFormat, *events: dict[str, Any]) -> str:
    stream = io.StringIO()
    observer = krait_observer(stream, level, log_format)
    for one in events:
        observer(one)
    return stream.getvalue()


def test_events_below_the_level_are_not_written() -> None:
    text = written(LogLevel.info, LogFormat.TEXT, event(LogLevel.debug, "hidden"), event())
    assert "hidden" not in text and "hello" in text


def test_access_lines_are_written_whatever_the_level() -> None:
    text = written(LogLevel.error, LogFormat.TEXT, ACCESS_EVENT, event(LogLevel.warn))
    assert text == ACCESS_EVENT["line"] + "\n"


def test_access_log_events_are_one_event_per_line() -> None:
    with capturedLogs() as events:
        AccessLogEvents().write("first\nsecond\n")
    assert [(e["log_namespace"], e["line"]) for e in events] == [
        (ACCESS_NAMESPACE, "first"),
        (ACCESS_NAMESPACE, "second"),
    ]


def test_twistd_s_log_file_is_chosen_as_twistd_would(tmp_path: Path) -> None:
    assert twistd_log_stream({"nodaemon": True, "logfile": None}, None) is sys.stdout
    assert twistd_log_stream({"nodaemon": True, "logfile": "-"}, None) is sys.stdout
    stream = twistd_log_stream({"nodaemon": True, "logfile": str(tmp_path / "t.log")}, None)
    assert isinstance(stream, LogFile) and stream.path == str(tmp_path / "t.log")
    stream.close()


@pytest.mark.parametrize(
    "options",
    [{"syslog": True}, {"logger": "my.observer"}, {"nodaemon": False, "logfile": "-"}],
)
def test_twistd_keeps_its_observer_for_syslog_a_logger_of_its_own_and_refusals(
    options: dict[str, Any],
) -> None:
    assert twistd_log_stream(options, None) is None


def test_stdlib_records_from_the_log_level_up_are_forwarded() -> None:
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    root.handlers[:] = []
    try:
        forward_stdlib_logging(LogLevel.debug)
        assert [type(h) for h in root.handlers] == [TwistedLogHandler]
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:] = saved
        root.setLevel(saved_level)


def fetch_missing(server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(server.url + "/missing", timeout=10)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_site(tmp_path / "site", {"index.html": "home"})


def test_debug_lines_are_hidden_by_default_and_shown_with_log_level_debug(
    site: Path, tmp_path: Path
) -> None:
    quiet = start_server(site, tmp_path / "quiet")
    fetch_missing(quiet)
    assert quiet.stop() == 0
    loud = start_server(site, tmp_path / "loud", "--log-level", "debug")
    fetch_missing(loud)
    assert loud.stop() == 0
    assert "#debug]" not in quiet.stderr()
    assert "[krait#debug] 404 for '/missing'" in loud.stderr()


def test_log_level_warn_hides_info_but_not_the_access_log(site: Path, tmp_path: Path) -> None:
    server = start_server(site, tmp_path / "log", "--log-level", "warn")
    fetch_missing(server)
    assert server.stop() == 0
    assert "#info]" not in server.stderr()
    assert '"GET /missing HTTP/1.1" 404' in server.stdout()


def test_an_invalid_log_level_names_the_choices(site: Path, tmp_path: Path) -> None:
    server = start_server(site, tmp_path / "log", "--log-level", "loud", wait=False)
    assert server.process.wait(30) == 2
    assert "--log-level takes one of debug, info, warn, error, not 'loud'" in server.stderr()


def test_json_format_writes_one_object_per_line_and_access_fields(
    site: Path, tmp_path: Path
) -> None:
    server = start_server(site, tmp_path / "log", "--log-format", "json")
    fetch_missing(server)
    assert server.stop() == 0
    records = [json.loads(line) for line in server.stderr().splitlines()]
    assert all({"time", "level", "namespace", "message"} <= record.keys() for record in records)
    assert any(record["message"].startswith("krait ") for record in records)
    (access,) = [json.loads(line) for line in server.stdout().splitlines()]
    assert access["namespace"] == ACCESS_NAMESPACE
    assert (access["method"], access["target"], access["status"]) == ("GET", "/missing", 404)
    assert access["message"].startswith("127.0.0.1 - - [")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", access["time"])


def test_under_twistd_an_access_line_has_one_timestamp(site: Path, tmp_path: Path) -> None:
    server = start_server(site, tmp_path / "log", twistd=True)
    fetch_missing(server)
    assert server.stop() == 0
    (access,) = [line for line in server.stdout().splitlines() if "GET /missing" in line]
    assert access.startswith("127.0.0.1 - - [") and access.endswith('"Python-urllib/3.11"')
    assert "[krait#info] krait " in server.stdout()


def test_under_twistd_json_goes_to_its_logfile(site: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "twistd.log"
    server = start_server(
        site,
        tmp_path / "log",
        "--log-format",
        "json",
        twistd=True,
        twistd_args=["--logfile", str(log_file)],
    )
    fetch_missing(server)
    assert server.stop() == 0
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(record["namespace"] == ACCESS_NAMESPACE for record in records)
    assert any(record["message"].startswith("twistd ") for record in records)
    assert server.stdout() == ""


def test_the_ready_line_names_the_port_that_was_bound(site: Path, tmp_path: Path) -> None:
    server = start_server(
        site, tmp_path / "log", "--listen", "tcp:0:interface=127.0.0.1", listen=False, wait=False
    )
    try:
        deadline = time.monotonic() + 30
        while not (
            found := re.search(r"serving \S+ on (http://127\.0\.0\.1:\d+)", server.stderr())
        ):
            assert time.monotonic() < deadline and server.process.poll() is None, server.stderr()
            time.sleep(0.05)
        assert urllib.request.urlopen(found[1] + "/", timeout=10).read() == b"home"
    finally:
        server.stop()
