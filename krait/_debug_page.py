"""The ``--debug`` error page: the exception, the site's source around each frame, the request;
and, in the same style, the page ``--reload`` serves while the site cannot start.

Built from plain values (``_tracebacks`` finds the frames, ``_answers`` the request's facts),
so it can be tested without a server. Everything shown is escaped, and the values of the
headers and form fields that carry credentials are masked: a page meant for the site's
developer still ends up in screenshots and bug reports. The page has its style inline and
loads nothing, so it renders the same offline, behind a proxy, or with a strict CSP.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

HIDDEN = "[hidden]"
"""What replaces a masked value."""

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
_SECRET_FIELD = re.compile(r"pass|secret|token", re.IGNORECASE)


@dataclass(frozen=True)
class SourceFrame:
    """One frame of the site's code, with the source lines around it.

    Attributes:
        filename: the file's path.
        line: the 1-based line that was running (or that has the syntax error).
        function: the function's name (``<template>`` for a Pyml template).
        first_line: the number of ``lines[0]``.
        lines: the source lines around ``line``, without their line breaks; empty when the
            file cannot be read.
    """

    filename: str
    line: int
    function: str
    first_line: int = 0
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestFacts:
    """What the debug page shows of the request.

    Attributes:
        method: the request method.
        path: the request target before ``?``.
        query: the query's fields, in order, repeats kept.
        headers: the request headers as received, in order.
        form: the body's form fields, if it is a form krait could read.
        body_note: what the body is when its fields are not shown (size and type).
    """

    method: str
    path: str
    query: Sequence[tuple[str, str]] = ()
    headers: Sequence[tuple[str, str]] = ()
    form: Sequence[tuple[str, str]] = ()
    body_note: str = field(default="")


def masked_header(name: str, value: str) -> str:
    """A header's value as the page shows it: cookies by name only, credentials hidden.

    ``Cookie: a=1; b=2`` becomes ``a=[hidden]; b=[hidden]``, and ``Authorization: Basic xyz``
    becomes ``Basic [hidden]``.
    """
    lower = name.lower()
    if lower == "cookie":
        names = [pair.split("=", 1)[0].strip() for pair in value.split(";") if pair.strip()]
        return "; ".join(f"{cookie}={HIDDEN}" for cookie in names)
    if lower in _SECRET_HEADERS:
        scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
        return f"{scheme} {HIDDEN}" if scheme else HIDDEN
    return value


def masked_field(name: str, value: str) -> str:
    """A form or query field's value, hidden when its name says it is a password or token."""
    return HIDDEN if _SECRET_FIELD.search(name) else value


_STYLE = """
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;
background:#f6f8fa}
header{background:#8b1a1a;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:15px;font-weight:600;opacity:.85}
header p{margin:6px 0 0;font:600 19px/1.35 ui-monospace,SFMono-Regular,Menlo,monospace;
white-space:pre-wrap;word-break:break-word}
main{padding:8px 28px 28px;max-width:1100px}
h2{font-size:16px;margin:26px 0 10px}
.frame{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:0 0 14px;
overflow:hidden}
.where{padding:7px 12px;background:#eaeef2;font:13px ui-monospace,Menlo,monospace;
word-break:break-all}
.where b{color:#8b1a1a}
.code{margin:0;padding:6px 0;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;
overflow-x:auto}
.code span{display:block;padding:0 12px;white-space:pre}
.code i{display:inline-block;width:4.5em;color:#8c959f;font-style:normal;user-select:none}
.code .here{background:#ffebe9;box-shadow:inset 3px 0 #cf222e}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de;
font-size:13px}
th,td{text-align:left;vertical-align:top;padding:5px 10px;border-top:1px solid #eaeef2}
th{width:220px;font-weight:600;color:#57606a;word-break:break-all}
td{font-family:ui-monospace,Menlo,monospace;word-break:break-all;white-space:pre-wrap}
.none{color:#8c959f}
pre.tb{background:#fff;border:1px solid #d0d7de;padding:10px 12px;font-size:12px;
overflow-x:auto}
footer{margin-top:26px;color:#57606a;font-size:13px}
"""


def debug_page(
    code: int,
    phrase: str,
    exception: str,
    frames: Sequence[SourceFrame],
    request: RequestFacts,
    traceback_text: str,
) -> bytes:
    """The whole page, as UTF-8 bytes.

    Args:
        code: the status (500).
        phrase: its reason phrase.
        exception: ``Type: message`` of what was raised.
        frames: the site's frames, outermost first.
        request: the request's facts (masked here).
        traceback_text: the plain traceback, for copying into a bug report.
    """
    e = html.escape
    title = f"{code} {phrase}"
    parts = [
        _head(title, exception),
        f"<header><h1>{e(title)}: an error in the site's code</h1><p>{e(exception)}</p></header>",
        "<main>",
    ]
    if frames:
        parts.append("<h2>Where (most recent call last)</h2>")
        parts.extend(_frame(frame) for frame in frames)
    parts.append("<h2>Request</h2>")
    parts.append(_table([("method", request.method), ("path", request.path)]))
    parts.append("<h2>Query</h2>")
    parts.append(_table([(k, masked_field(k, v)) for k, v in request.query]))
    parts.append("<h2>Form</h2>")
    if request.body_note:
        parts.append(f'<p class="none">{e(request.body_note)}</p>')
    if request.form or not request.body_note:
        parts.append(_table([(k, masked_field(k, v)) for k, v in request.form]))
    parts.append("<h2>Headers</h2>")
    parts.append(_table([(k, masked_header(k, v)) for k, v in request.headers]))
    parts.append("<h2>Traceback</h2>")
    parts.append(f'<pre class="tb">{e(traceback_text)}</pre>')
    parts.append(
        "<footer>krait shows this page because it runs with <code>--debug</code>. Never "
        "use <code>--debug</code> in production: it shows your code to every visitor."
        "</footer></main></body></html>"
    )
    return "".join(parts).encode("utf-8")


def start_error_page(
    message: str, frames: Sequence[SourceFrame], location: str = "", hint: str = ""
) -> bytes:
    """The page ``--reload`` serves for every request while the site cannot start.

    Args:
        message: what is wrong (a :class:`krait._errors.SiteConfigError`'s message).
        frames: the line at fault with the source around it, if the error names one.
        location: the file at fault, shown when there is no frame.
        hint: how to fix it.
    """
    e = html.escape
    title = "500 Internal Server Error"
    parts = [
        _head(title, message),
        f"<header><h1>{title}: the site cannot start</h1><p>{e(message)}</p></header>",
        "<main>",
    ]
    if frames:
        parts.append("<h2>Where</h2>")
        parts.extend(_frame(frame) for frame in frames)
    elif location:
        where = f'<div class="where">{e(location)}</div>'
        parts.append(f'<h2>Where</h2><div class="frame">{where}</div>')
    if hint:
        parts.append(f"<h2>Fix</h2><p>{e(hint)}</p>")
    parts.append(
        "<footer>krait shows this page because it runs with <code>--reload</code>, a "
        "development mode: every request gets it until a change you save lets the site start. "
        "Never use <code>--reload</code> in production: it shows your code to every visitor."
        "</footer></main></body></html>"
    )
    return "".join(parts).encode("utf-8")


def _head(title: str, message: str) -> str:
    e = html.escape
    first_line = message.splitlines()[0] if message else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}: '
        f"{e(first_line)}</title><style>{_STYLE}</style></head><body>"
    )


def _frame(frame: SourceFrame) -> str:
    e = html.escape
    function = f" in <b>{e(frame.function)}</b>" if frame.function else ""
    head = f'<div class="where">{e(frame.filename)}, line {frame.line}{function}</div>'
    if not frame.lines:
        return f'<div class="frame">{head}</div>'
    rows = []
    for number, text in enumerate(frame.lines, frame.first_line):
        here = ' class="here"' if number == frame.line else ""
        rows.append(f"<span{here}><i>{number}</i>{e(text)}</span>")
    return f'<div class="frame">{head}<pre class="code">{"".join(rows)}</pre></div>'


def _table(rows: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return '<p class="none">none</p>'
    e = html.escape
    cells = "".join(f"<tr><th>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in rows)
    return f"<table>{cells}</table>"
