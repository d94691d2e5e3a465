"""Tracebacks of user code, without the frames of krait and Twisted around it."""

from __future__ import annotations

import linecache
import os
import traceback

import krait
import twisted
from krait._debug_page import SourceFrame
from krait._pyml import PymlSyntaxError
from krait._scripts import ScriptSyntaxError

CONTEXT_LINES = 3
"""Source lines shown on each side of a frame's line in the ``--debug`` page."""

_INTERNAL_DIRS = tuple(
    os.path.dirname(os.path.abspath(module.__file__ or "")) + os.sep for module in (krait, twisted)
)


def is_internal_frame(filename: str) -> bool:
    """True for frames of krait itself or of Twisted (not the site's code)."""
    return os.path.abspath(filename).startswith(_INTERNAL_DIRS)


def user_traceback(error: BaseException) -> str:
    """Format ``error`` showing only the frames of the site's own code.

    Syntax errors of templates and scripts already name file, line and column: for those only
    the message is returned.
    """
    if isinstance(error, PymlSyntaxError | ScriptSyntaxError):
        return f"{type(error).__name__}: {error}\n"
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not is_internal_frame(frame.filename)
    ]
    text = "".join(traceback.format_exception_only(type(error), error))
    if not frames:
        return text
    return "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + text


def user_frames(error: BaseException, context: int = CONTEXT_LINES) -> list[SourceFrame]:
    """The frames of the site's code in ``error``'s traceback, with their source lines.

    A template or script syntax error has one: the line the error names.
    """
    if isinstance(error, PymlSyntaxError | ScriptSyntaxError):
        return [source_frame(error.filename, error.line, "", context)] if error.line else []
    return [
        source_frame(frame.filename, frame.lineno or 0, frame.name, context)
        for frame in traceback.extract_tb(error.__traceback__)
        if not is_internal_frame(frame.filename)
    ]


def source_frame(filename: str, line: int, function: str, context: int) -> SourceFrame:
    """A frame and the ``context`` lines on each side of ``line`` (fewer at the file's ends)."""
    linecache.checkcache(filename)  # a script or template edited since it was cached
    first = max(1, line - context)
    lines = [linecache.getline(filename, number) for number in range(first, line + context + 1)]
    while lines and not lines[-1]:  # getline gives "" past the end of the file
        lines.pop()
    return SourceFrame(
        filename, line, function, first, tuple(text.rstrip("\r\n") for text in lines)
    )
