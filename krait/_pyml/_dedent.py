"""The dedent rule for ``@{ }`` blocks and ``.py`` scripts (spec §10.3).

Code that starts with indentation or a line break loses the indentation of its first line of
code from every line, once for tabs and then once for spaces. Lines that start inside a string
literal (a triple-quoted string, say) are kept verbatim, and no line is added or removed, so
line numbers in tracebacks still match the file.
"""

from __future__ import annotations

import re

from krait._pyml._scan import string_end

_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")
_COMMENT_OR_QUOTE = re.compile(r"""#[^\r\n]*|['"]""")
_BLANK = " \t\f\r\n"


def dedent_code(code: str) -> str:
    """Removes the common indentation of a piece of Python code.

    Args:
        code: Python source, e.g. the inside of an ``@{ }`` block or a ``.py`` script.

    Returns:
        The code with the indentation of its first line of code removed from every line,
        except lines inside string literals. Code that does not start with a tab, a space or
        a line break is returned unchanged.
    """
    return dedent_with_offsets(code)[0]


def dedent_with_offsets(code: str) -> tuple[str, list[int]]:
    """Dedents ``code`` as :func:`dedent_code` does.

    Returns:
        The dedented code and, for each of its lines, how many characters were removed from
        the start of that line (so columns can be mapped back to the original).
    """
    lines = split_lines(code)
    verbatim = _lines_inside_strings(code, lines)
    removed = [0] * len(lines)
    for indent_char in ("\t", " "):
        _dedent_pass(lines, verbatim, removed, indent_char)
    return "".join(lines), removed


def split_lines(text: str) -> list[str]:
    """Splits ``text`` at ``\\r\\n``, ``\\r`` and ``\\n`` (as Python does), keeping the breaks."""
    parts = _LINE_BREAK.split(text)
    lines = [parts[index] + parts[index + 1] for index in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _lines_inside_strings(code: str, lines: list[str]) -> list[bool]:
    """Tells, for each line, whether it starts inside a string literal."""
    spans: list[tuple[int, int]] = []
    index = 0
    while (match := _COMMENT_OR_QUOTE.search(code, index)) is not None:
        index = match.end()
        if match.group() in "'\"":
            end = string_end(code, match.start(), multiline=False)
            index = len(code) if end is None else end
            spans.append((match.start(), index))
    inside: list[bool] = []
    line_start = 0
    span_index = 0
    for line in lines:
        while span_index < len(spans) and spans[span_index][1] <= line_start:
            span_index += 1
        inside.append(span_index < len(spans) and spans[span_index][0] < line_start)
        line_start += len(line)
    return inside


def _dedent_pass(
    lines: list[str], verbatim: list[bool], removed: list[int], indent_char: str
) -> None:
    if not lines or lines[0][:1] not in (indent_char, "\r", "\n"):
        return
    width = _indent_width(lines, verbatim, indent_char)
    if not width:
        return
    for index, line in enumerate(lines):
        if verbatim[index]:
            continue
        count = len(line[:width]) - len(line[:width].lstrip(indent_char))
        if count == width or not line.strip(_BLANK):
            lines[index] = line[count:]
            removed[index] += count


def _indent_width(lines: list[str], verbatim: list[bool], indent_char: str) -> int:
    """Counts the indentation of the first line of code (comment-only lines do not count)."""
    first_comment: str | None = None
    for line, is_verbatim in zip(lines, verbatim, strict=True):
        content = line.strip(_BLANK)
        if is_verbatim or not content:
            continue
        if not content.startswith("#"):
            return len(line) - len(line.lstrip(indent_char))
        first_comment = first_comment if first_comment is not None else line
    if first_comment is None:
        return 0
    return len(first_comment) - len(first_comment.lstrip(indent_char))
