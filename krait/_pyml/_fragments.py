"""Parsing the Python pieces of a template into AST nodes placed at their template lines.

Each piece is parsed on its own, then every node is moved to the line and column where the
piece sits in the template, so compiled code reports template positions in tracebacks. A
:class:`SyntaxError` is re-raised as :class:`PymlSyntaxError` at the template position.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Literal

from krait._pyml._dedent import dedent_with_offsets
from krait._pyml._errors import PymlSyntaxError, SourceMap, utf8_length
from krait._pyml._lexer import Fragment

_DETECTED_AT = re.compile(r"\s*\(detected at line \d+\)")
_FOR_PREFIX = "for "
_FOR_SUFFIX = ": pass"
_HINT_SEARCH_LIMIT = 400
"""Longest expression searched for a valid start, so a huge broken one stays cheap to report."""
_LEADING_NODES = (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.Constant)
"""What a reader means by "an expression followed by text": ``name``, ``a.b``, ``a[0]``, ``f()``."""


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where the lines of a parsed text sit in the template.

    Attributes:
        line: Template line of the text's first line.
        column: Template character column where the text's first line begins; negative when
            the text starts with a prefix that is not in the template.
        byte_column: The same column in UTF-8 bytes, as AST nodes count.
        removed: Characters removed by the dedent from the start of each line.
    """

    line: int
    column: int
    byte_column: int
    removed: tuple[int, ...]

    def shift(self, line: int) -> tuple[int, int, int]:
        """Returns the template line, character and byte shift for a 1-based text line."""
        extra = self.removed[line - 1] if 0 < line <= len(self.removed) else 0
        if line == 1:
            return self.line, self.column + extra, self.byte_column + extra
        return self.line + line - 1, extra, extra


def _placement(
    source_map: SourceMap, fragment: Fragment, removed: list[int], prefix: str = ""
) -> _Placement:
    line, column = source_map.line_and_column(fragment.start)
    byte_column = source_map.byte_column(fragment.start)
    return _Placement(line, column - len(prefix), byte_column - utf8_length(prefix), tuple(removed))


def parse_expression(
    source_map: SourceMap, fragment: Fragment, what: str, lead: str | None = None
) -> ast.expr:
    """Parses an expression piece.

    Args:
        source_map: The template.
        fragment: The expression and where it starts.
        what: How to name the piece in error messages, e.g. ``"@if condition"``.
        lead: How the construct starts (``"@"``, ``"@!"``, ``"@import "``) when the piece ends
            where Pyml's expression scan stopped. When such a piece is not Python because
            text follows a valid expression directly (``<li>@item</li>`` scans
            ``item</li>``), the error says to end the expression with ``@``.

    Returns:
        The expression node, located in the template.

    Raises:
        PymlSyntaxError: When the piece is not a Python expression.
    """
    placement = _placement(source_map, fragment, [0])
    try:
        tree = _parse(source_map, fragment.text, "eval", placement, what)
    except PymlSyntaxError:
        leading = None if lead is None else leading_expression(fragment.text)
        if leading is None:
            raise
        raise source_map.error(
            fragment.start + len(leading),
            f"{lead}{fragment.text} is not a Python expression; end the expression with @ "
            f"when text follows it directly: {lead}{leading}@",
        ) from None
    assert isinstance(tree, ast.Expression)
    return tree.body


def leading_expression(text: str) -> str | None:
    """Finds the expression a reader meant when text follows it without a closing ``@``.

    Args:
        text: An expression piece that is not valid Python, e.g. ``item</li>``.

    Returns:
        The longest start of ``text`` that is a name, attribute, subscript, call, literal or
        parenthesised expression and is followed by something that cannot continue it (so
        ``item`` for ``item</li>``, ``ctrl.name`` for ``ctrl.name.``), or None.
    """
    if len(text) > _HINT_SEARCH_LIMIT:
        return None
    for end in range(len(text) - 1, 0, -1):
        before, after = text[end - 1], text[end]
        if _continues(before, after, text[end + 1 : end + 2]):
            continue
        candidate = text[:end]
        body = _expression_or_none(candidate)
        if isinstance(body, _LEADING_NODES) or (
            body is not None and candidate.startswith("(") and candidate.endswith(")")
        ):
            return candidate
    return None


def _continues(before: str, after: str, next_char: str) -> bool:
    """Tells whether ``after`` (then ``next_char``) goes on with the expression before it."""
    if _is_word_char(after) and (_is_word_char(before) or before == "."):
        return True
    if after == "." and _is_word_char(next_char):
        return True
    return after in "([" or after.isspace()


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _expression_or_none(text: str) -> ast.expr | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text, mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def parse_statements(source_map: SourceMap, fragment: Fragment) -> list[ast.stmt]:
    """Parses an ``@{ }`` block, after the dedent rule, into located statements.

    Raises:
        PymlSyntaxError: When the block is not valid Python.
    """
    code, removed = dedent_with_offsets(fragment.text)
    placement = _placement(source_map, fragment, removed)
    tree = _parse(source_map, code, "exec", placement, "@{ } block")
    assert isinstance(tree, ast.Module)
    return tree.body


def parse_for_header(source_map: SourceMap, fragment: Fragment) -> tuple[ast.expr, ast.expr]:
    """Parses ``ENTRY in COLLECTION`` into the loop target and the iterable.

    Raises:
        PymlSyntaxError: When the header is not valid Python.
    """
    placement = _placement(source_map, fragment, [0], _FOR_PREFIX)
    text = f"{_FOR_PREFIX}{fragment.text}{_FOR_SUFFIX}"
    tree = _parse(source_map, text, "exec", placement, "@for header")
    assert isinstance(tree, ast.Module)
    loop = tree.body[0]
    if len(tree.body) != 1 or not isinstance(loop, ast.For):
        raise source_map.error(
            fragment.start, "invalid @for header (write @for NAME in COLLECTION:)"
        )
    return loop.target, loop.iter


def _parse(
    source_map: SourceMap,
    text: str,
    mode: Literal["eval", "exec"],
    placement: _Placement,
    what: str,
) -> ast.AST:
    # The tokenizer warns about bad escapes in string literals with its own line numbers, so
    # text with a backslash is moved down to its template line by leading line breaks.
    padding = placement.line - 1 if "\\" in text else 0
    try:
        tree = compile(
            "\n" * padding + text, source_map.filename, mode, ast.PyCF_ONLY_AST, dont_inherit=True
        )
    except SyntaxError as error:
        raise _template_error(source_map, error, placement, padding, what) from None
    except ValueError as error:
        line, column, _ = placement.shift(1)
        raise source_map.error_at(line, column, f"invalid Python in {what}: {error}") from None
    _relocate(tree, placement, padding)
    return tree


def _template_error(
    source_map: SourceMap, error: SyntaxError, placement: _Placement, padding: int, what: str
) -> PymlSyntaxError:
    text_line = max((error.lineno or 1) - padding, 1)
    line, column, _ = placement.shift(text_line)
    column += (error.offset or 1) - 1
    reason = _DETECTED_AT.sub("", error.msg)
    return source_map.error_at(line, column, f"invalid Python in {what}: {reason}")


def _relocate(tree: ast.AST, placement: _Placement, padding: int) -> None:
    """Moves every located node of ``tree`` from text positions to template positions."""
    for node in ast.walk(tree):
        lineno = getattr(node, "lineno", None)
        if lineno is None:
            continue
        line, _, byte_shift = placement.shift(lineno - padding)
        node.lineno = line  # type: ignore[attr-defined]
        node.col_offset = max(node.col_offset + byte_shift, 0)  # type: ignore[attr-defined]
        end_lineno = getattr(node, "end_lineno", None)
        if end_lineno is not None:
            end_line, _, end_shift = placement.shift(end_lineno - padding)
            node.end_lineno = end_line  # type: ignore[attr-defined]
            node.end_col_offset = max(node.end_col_offset + end_shift, 0)  # type: ignore[attr-defined]
