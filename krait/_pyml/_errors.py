"""Pyml parse errors, and the map from offsets in a template to its lines and columns."""

from __future__ import annotations

import bisect
import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class PymlSyntaxError(Exception):
    """A template that cannot be compiled.

    Attributes:
        filename: The template's file name, as given to the compiler.
        line: 1-based line of the problem.
        column: 1-based column (in characters) of the problem.
        reason: What is wrong and how to fix it.
    """

    def __init__(self, filename: str, line: int, column: int, reason: str) -> None:
        super().__init__(filename, line, column, reason)
        self.filename = filename
        self.line = line
        self.column = column
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: {self.reason}"


class SourceMap:
    """Locates offsets of a template's text, counting lines as Python does.

    Lines end at ``\\r\\n``, ``\\r`` or ``\\n``, the same breaks that Python's tokenizer and
    :mod:`linecache` use, so template lines agree with traceback lines.
    """

    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.filename = filename
        self._line_starts = [0, *(match.end() for match in _LINE_BREAK.finditer(source))]

    def line_and_column(self, offset: int) -> tuple[int, int]:
        """Returns the 1-based line and 0-based character column of ``offset``."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index]

    def byte_column(self, offset: int) -> int:
        """Returns the 0-based UTF-8 byte column of ``offset``, as Python's AST counts it."""
        line, column = self.line_and_column(offset)
        start = self._line_starts[line - 1]
        return utf8_length(self.source[start : start + column])

    def line_text(self, line: int) -> str:
        """Returns the text of the 1-based ``line``, without its line break."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] if line < len(self._line_starts) else len(self.source)
        return self.source[start:end].rstrip("\r\n")

    def error(self, offset: int, reason: str) -> PymlSyntaxError:
        """Builds the error for a problem found at ``offset``."""
        line, column = self.line_and_column(offset)
        return PymlSyntaxError(self.filename, line, column + 1, reason)

    def error_at(self, line: int, column: int, reason: str) -> PymlSyntaxError:
        """Builds the error for a problem at a 1-based ``line`` and 0-based ``column``."""
        return PymlSyntaxError(self.filename, line, max(column, 0) + 1, reason)


def utf8_length(text: str) -> int:
    """Returns the length of ``text`` in UTF-8 bytes (lone surrogates count as 3)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
