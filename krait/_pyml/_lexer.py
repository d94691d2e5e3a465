"""Splitting a template into tokens: text, ``@`` expressions, code blocks and block keywords.

After an ``@`` the lexer decides, in this order: ``@@`` (a literal ``@``), a lone ``@`` before
whitespace or at the end (dropped), ``@{ code }``, ``@!expr``, the keywords (``@if``,
``@elif``, ``@else:``, ``@/if``, ``@for``, ``@/for``, ``@import-ctrl``, ``@import``) and
finally ``@expr``. A keyword is only a keyword when the right character follows it, so
``@iffy`` and ``@format(x)`` are expressions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from krait._pyml._errors import SourceMap
from krait._pyml._scan import (
    WHITESPACE,
    code_block_end,
    expression_end,
    for_in_offset,
    header_end,
)


class TokenKind(enum.Enum):
    """What a token stands for."""

    TEXT = enum.auto()
    ESCAPED = enum.auto()
    RAW = enum.auto()
    INCLUDE = enum.auto()
    INCLUDE_CTRL = enum.auto()
    CODE = enum.auto()
    IF = enum.auto()
    ELIF = enum.auto()
    ELSE = enum.auto()
    END_IF = enum.auto()
    FOR = enum.auto()
    END_FOR = enum.auto()


@dataclass(frozen=True, slots=True)
class Fragment:
    """A piece of Python taken from the template.

    Attributes:
        text: The Python source, stripped of surrounding whitespace for expressions and
            headers, verbatim for ``@{ }`` blocks.
        start: Offset of ``text`` in the template.
    """

    text: str
    start: int


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical item of a template.

    Attributes:
        kind: What the token is.
        at: Offset of the token in the template (its ``@`` for constructs).
        text: The literal text, for ``TEXT`` tokens.
        code: The Python of expressions, includes, code blocks and headers.
    """

    kind: TokenKind
    at: int
    text: str = ""
    code: Fragment | None = None


_KEYWORD_FORMS = {
    "if": "@if CONDITION:",
    "elif": "@elif CONDITION:",
    "else": "@else:",
    "for": "@for NAME in COLLECTION:",
    "import": '@import "path.html"',
    "import-ctrl": "@import-ctrl CONTROLLER",
}
_END_KEYWORDS = (("/if", TokenKind.END_IF), ("/for", TokenKind.END_FOR))
_HEADER_KEYWORDS = (("if", TokenKind.IF), ("elif", TokenKind.ELIF), ("for", TokenKind.FOR))
_INCLUDE_KEYWORDS = (
    ("import-ctrl", TokenKind.INCLUDE_CTRL),
    ("import", TokenKind.INCLUDE),
)


def tokenize(source_map: SourceMap) -> list[Token]:
    """Splits a template into tokens.

    Args:
        source_map: The template and its line map.

    Returns:
        The tokens in document order; text tokens are never empty.

    Raises:
        PymlSyntaxError: When a construct is malformed or never ends.
    """
    return _Lexer(source_map).run()


class _Lexer:
    def __init__(self, source_map: SourceMap) -> None:
        self.map = source_map
        self.source = source_map.source
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        source = self.source
        index = 0
        while (at := source.find("@", index)) >= 0:
            self._text(source[index:at], index)
            index = self._construct(at)
        self._text(source[index:], index)
        return self.tokens

    def _text(self, text: str, at: int) -> None:
        if text:
            self.tokens.append(Token(TokenKind.TEXT, at, text=text))

    def _char(self, index: int) -> str:
        return self.source[index] if index < len(self.source) else ""

    def _construct(self, at: int) -> int:
        """Lexes the construct whose ``@`` is at ``at``; returns where the text resumes."""
        source = self.source
        start = at + 1
        char = self._char(start)
        if char == "" or char in WHITESPACE:
            return start
        if char == "@":
            self._text("@", at)
            return start + 1
        if char == "{":
            end = code_block_end(self.map, start + 1, at)
            self.tokens.append(
                Token(TokenKind.CODE, at, code=Fragment(source[start + 1 : end], start + 1))
            )
            return end + 1
        if char == "!":
            return self._output(TokenKind.RAW, at, start + 1)
        for keyword, kind in _HEADER_KEYWORDS:
            if source.startswith(keyword, start) and self._is_space(start + len(keyword)):
                return self._header(kind, keyword, at, start + len(keyword) + 1)
        if source.startswith("else", start) and self._is_space_or(start + 4, ":"):
            return self._else(at, start + 4)
        for keyword, kind in _END_KEYWORDS:
            end = start + len(keyword)
            if source.startswith(keyword, start) and self._is_space_or(end, "@", ""):
                self.tokens.append(Token(kind, at))
                return end + 1 if self._char(end) == "@" else end
        for keyword, kind in _INCLUDE_KEYWORDS:
            if source.startswith(keyword, start) and self._is_space(start + len(keyword)):
                return self._include(kind, keyword, at, start + len(keyword) + 1)
        return self._output(TokenKind.ESCAPED, at, start)

    def _is_space(self, index: int) -> bool:
        char = self._char(index)
        return char != "" and char in WHITESPACE

    def _is_space_or(self, index: int, *others: str) -> bool:
        return self._is_space(index) or self._char(index) in others

    def _output(self, kind: TokenKind, at: int, start: int) -> int:
        """Lexes ``@expr`` or ``@!expr``; a trailing ``@`` is consumed."""
        end = expression_end(self.map, start)
        text = self.source[start:end]
        if not text:
            raise self._empty_expression(kind, at, start)
        self._reject_keyword_typos(text, at)
        self.tokens.append(Token(kind, at, code=Fragment(text, start)))
        return end + 1 if self._char(end) == "@" else end

    def _empty_expression(self, kind: TokenKind, at: int, start: int) -> Exception:
        if kind is TokenKind.RAW:
            return self.map.error(at, "@! needs an expression (write @!value, or @@! for text)")
        found = self._char(start)
        return self.map.error(
            at, f"'@' followed by {found!r} starts no expression (write @@ for a literal @)"
        )

    def _reject_keyword_typos(self, text: str, at: int) -> None:
        if text in _KEYWORD_FORMS:
            raise self.map.error(at, f"incomplete @{text} (write {_KEYWORD_FORMS[text]})")
        for keyword, _ in _END_KEYWORDS:
            if text.startswith(keyword):
                raise self.map.error(
                    at,
                    f"@{keyword} must be followed by whitespace, @ or the end of the file "
                    f"(write @{keyword}@ when text follows immediately)",
                )

    def _header(self, kind: TokenKind, keyword: str, at: int, start: int) -> int:
        """Lexes ``@if COND:``, ``@elif COND:`` or ``@for ENTRY in COLL:``."""
        colon = header_end(self.map, start, at, keyword)
        header = self._stripped(start, colon)
        if not header.text:
            what = "a collection" if kind is TokenKind.FOR else "a condition"
            raise self.map.error(at, f"@{keyword} needs {what} (write {_KEYWORD_FORMS[keyword]})")
        if kind is TokenKind.FOR:
            self._check_for_header(header, at)
        self.tokens.append(Token(kind, at, code=header))
        return colon + 1

    def _check_for_header(self, header: Fragment, at: int) -> None:
        end = header.start + len(header.text)
        in_at = for_in_offset(self.map, header.start, end)
        form = _KEYWORD_FORMS["for"]
        if in_at is None:
            raise self.map.error(
                at, f"@for needs 'in' between the loop names and the collection (write {form})"
            )
        if not self.source[header.start : in_at].strip(WHITESPACE):
            raise self.map.error(at, f"@for has no loop names before 'in' (write {form})")
        if not self.source[in_at + 2 : end].strip(WHITESPACE):
            raise self.map.error(at, f"@for has an empty collection after 'in' (write {form})")

    def _else(self, at: int, index: int) -> int:
        """Lexes ``@else:``, allowing whitespace before the colon."""
        while self._is_space(index):
            index += 1
        if self._char(index) != ":":
            raise self.map.error(at, "incomplete @else (write @else: with a colon)")
        self.tokens.append(Token(TokenKind.ELSE, at))
        return index + 1

    def _include(self, kind: TokenKind, keyword: str, at: int, start: int) -> int:
        """Lexes ``@import PATH`` or ``@import-ctrl CTRL``; a trailing ``@`` is consumed."""
        while self._char(start) in (" ", "\t"):
            start += 1
        end = expression_end(self.map, start)
        if end == start:
            raise self.map.error(
                at, f"@{keyword} needs an expression (write {_KEYWORD_FORMS[keyword]})"
            )
        self.tokens.append(Token(kind, at, code=Fragment(self.source[start:end], start)))
        return end + 1 if self._char(end) == "@" else end

    def _stripped(self, start: int, end: int) -> Fragment:
        text = self.source[start:end]
        stripped = text.lstrip(WHITESPACE)
        return Fragment(stripped.rstrip(WHITESPACE), start + len(text) - len(stripped))
