"""Tracebacks of user code, without the frames of krait and Twisted around it."""

from __future__ import annotations

import os
import traceback

import krait
import twisted
from krait._pyml import PymlSyntaxError
from krait._scripts import ScriptSyntaxError

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
