"""Finding where the Python inside a template ends: strings, brackets, expressions, headers.

Pyml has no delimiters around its Python, so the lexer asks these scanners how far each piece
reaches. They skip string literals (with backslash escapes and triple quotes), track brackets
and raise :class:`PymlSyntaxError` with the template's line and column when a piece never ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from krait._pyml._errors import SourceMap

WHITESPACE = " \t\n\r\f\v"
"""The characters that end an expression (ASCII whitespace, as the original parser had)."""

_QUOTES = frozenset("'\"")
_CLOSER_OF = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(")]}")
_LINE_BREAKS = frozenset("\r\n")
_CODE_BLOCK_SPECIALS = re.compile(r"""[{}'"]""")
_FORMS = {
    "if": "@if CONDITION:",
    "elif": "@elif CONDITION:",
    "for": "@for NAME in COLLECTION:",
}


def _string_pattern(quote: str, *, triple: bool, multiline: bool) -> re.Pattern[str]:
    if triple:
        body = rf"(?:[^{quote}\\]++|\\[\s\S]|{quote}(?!{quote}{quote}))*+"
        return re.compile(rf"{quote * 3}{body}{quote * 3}")
    forbidden = rf"{quote}\\" if multiline else rf"{quote}\\\r\n"
    return re.compile(rf"{quote}(?:[^{forbidden}]++|\\[\s\S])*+{quote}")


_STRING_PATTERNS = {
    (quote, triple, multiline): _string_pattern(quote, triple=triple, multiline=multiline)
    for quote in _QUOTES
    for triple in (False, True)
    for multiline in (False, True)
}


def string_end(source: str, start: int, *, multiline: bool) -> int | None:
    """Returns the offset just past the string literal that opens at ``start``.

    Args:
        source: The text being scanned.
        start: Offset of the opening quote.
        multiline: Whether a single-quoted literal may run over a line break (the original
            parser allowed it in ``@{ }`` blocks, where a quote in a comment opens a string).

    Returns:
        The end offset, or ``None`` when the literal is never closed.
    """
    quote = source[start]
    triple = source.startswith(quote * 3, start)
    match = _STRING_PATTERNS[quote, triple, multiline].match(source, start)
    return None if match is None else match.end()


def _outside_strings(source_map: SourceMap, start: int) -> Iterator[tuple[int, int]]:
    """Yields ``(offset, bracket depth)`` for each character outside string literals.

    A closing bracket is yielded with the depth it closes from; an unmatched one at depth 0 is
    left to the caller. Raises when a string or a bracket is never closed.
    """
    source = source_map.source
    open_brackets: list[int] = []
    index = start
    while index < len(source):
        char = source[index]
        if char in _QUOTES:
            end = string_end(source, index, multiline=False)
            if end is None:
                raise source_map.error(
                    index,
                    f"unterminated string literal: close it with {char}; if the {char} is "
                    f"text, end the expression before it with @, e.g. @name@{char}s",
                )
            index = end
            continue
        yield index, len(open_brackets)
        if char in _CLOSER_OF:
            open_brackets.append(index)
        elif char in _CLOSERS and open_brackets:
            opener = open_brackets.pop()
            if _CLOSER_OF[source[opener]] != char:
                line, column = source_map.line_and_column(opener)
                raise source_map.error(
                    index,
                    f"'{char}' does not close the '{source[opener]}' opened at line {line} "
                    f"column {column + 1} (close it with '{_CLOSER_OF[source[opener]]}')",
                )
        index += 1
    if open_brackets:
        opener = open_brackets[-1]
        raise source_map.error(
            opener,
            f"'{source[opener]}' is never closed (close it with '{_CLOSER_OF[source[opener]]}', "
            "or write @@ for a literal @)",
        )


def expression_end(source_map: SourceMap, start: int) -> int:
    """Returns where the expression starting at ``start`` ends.

    It ends at the first whitespace or ``@`` outside string literals and balanced ``()``,
    ``[]`` and ``{}``, at a closing bracket that closes nothing (so ``f(@x)`` works), or at
    the end of the template.
    """
    source = source_map.source
    for index, depth in _outside_strings(source_map, start):
        char = source[index]
        if depth == 0 and (char == "@" or char in WHITESPACE or char in _CLOSERS):
            return index
    return len(source)


def header_end(source_map: SourceMap, start: int, at: int, keyword: str) -> int:
    """Returns the offset of the ``:`` that ends an ``@if``, ``@elif`` or ``@for`` header.

    It is the first ``:`` at bracket depth 0 outside string literals, so slices, lambdas and
    dict literals inside brackets are safe. A header cannot run over a line break at depth 0.
    """
    source = source_map.source
    started = False
    for index, depth in _outside_strings(source_map, start):
        char = source[index]
        if depth:
            started = True
            continue
        if char == ":":
            return index
        if char in _CLOSERS:
            raise source_map.error(
                index, f"'{char}' closes nothing in this @{keyword} header (remove it)"
            )
        if char in _LINE_BREAKS and started:
            if char == "\n" and source[index - 1] == "\r":
                continue
            if source[index - 1] != "\\":
                break
        started = started or char not in WHITESPACE
    raise source_map.error(
        at, f"the @{keyword} header has no ':' at the end of its line (write {_FORMS[keyword]})"
    )


def code_block_end(source_map: SourceMap, start: int, at: int) -> int:
    """Returns the offset of the ``}`` that closes the ``@{`` block whose code starts at ``start``.

    Only braces are counted, and quotes open string literals even inside ``#`` comments, as in
    the original parser.
    """
    source = source_map.source
    depth = 0
    index = start
    while (match := _CODE_BLOCK_SPECIALS.search(source, index)) is not None:
        index = match.start()
        char = source[index]
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        else:
            end = string_end(source, index, multiline=True)
            if end is None:
                raise source_map.error(
                    index,
                    f"unterminated string literal in @{{ }} block (close it with {char}; note "
                    f"that a {char} inside a # comment also opens a string)",
                )
            index = end
            continue
        index += 1
    raise source_map.error(
        at,
        "unterminated @{ block: close it with a matching } "
        "(braces inside the block must be balanced)",
    )


def for_in_offset(source_map: SourceMap, start: int, end: int) -> int | None:
    """Returns the offset of the ``in`` keyword of a ``@for`` header, or ``None``.

    It is the first whole word ``in`` at bracket depth 0 outside strings, between ``start``
    and ``end``.
    """
    source = source_map.source
    for index, depth in _outside_strings(source_map, start):
        if index >= end:
            break
        if (
            depth == 0
            and source.startswith("in", index)
            and not _is_word_char(source, index - 1, start, end)
            and not _is_word_char(source, index + 2, start, end)
        ):
            return index
    return None


def _is_word_char(source: str, index: int, start: int, end: int) -> bool:
    return start <= index < end and (source[index].isalnum() or source[index] == "_")
