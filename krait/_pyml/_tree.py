"""The parse tree of a template: text, outputs, code blocks, ``@if`` and ``@for`` blocks.

:func:`parse` nests the lexer's tokens, checking that every ``@if`` and ``@for`` is closed by
its own end keyword and that ``@elif``/``@else`` only appear where they belong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from krait._pyml._errors import SourceMap
from krait._pyml._lexer import Fragment, Token, TokenKind, tokenize


@dataclass(frozen=True, slots=True)
class Text:
    """Literal text, emitted as written."""

    value: str
    at: int


@dataclass(frozen=True, slots=True)
class Output:
    """Something evaluated and emitted: ``@expr``, ``@!expr``, ``@import`` or ``@import-ctrl``.

    Attributes:
        kind: One of ``ESCAPED``, ``RAW``, ``INCLUDE`` and ``INCLUDE_CTRL``.
        code: The Python expression.
        at: Offset of the ``@``.
    """

    kind: TokenKind
    code: Fragment
    at: int


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """An ``@{ ... }`` statement block."""

    code: Fragment
    at: int


@dataclass(frozen=True, slots=True)
class Branch:
    """One ``@if``/``@elif`` condition and the body it guards."""

    condition: Fragment
    body: tuple[Node, ...]
    at: int


@dataclass(frozen=True, slots=True)
class IfBlock:
    """``@if ... @elif ... @else: ... @/if``; ``orelse`` is ``None`` without an ``@else``."""

    branches: tuple[Branch, ...]
    orelse: tuple[Node, ...] | None
    at: int


@dataclass(frozen=True, slots=True)
class ForBlock:
    """``@for ENTRY in COLLECTION: ... @/for``; ``header`` is ``ENTRY in COLLECTION``."""

    header: Fragment
    body: tuple[Node, ...]
    at: int


Node = Text | Output | CodeBlock | IfBlock | ForBlock

_OUTPUT_KINDS = frozenset(
    {TokenKind.ESCAPED, TokenKind.RAW, TokenKind.INCLUDE, TokenKind.INCLUDE_CTRL}
)


@dataclass
class _OpenBlock:
    """An ``@if`` or ``@for`` whose end keyword has not been seen yet."""

    token: Token
    heads: list[Token] = field(default_factory=list)
    bodies: list[list[Node]] = field(default_factory=list)
    has_else: bool = False

    @property
    def keyword(self) -> str:
        return "if" if self.token.kind is TokenKind.IF else "for"

    def start_branch(self, head: Token) -> list[Node]:
        self.heads.append(head)
        self.bodies.append([])
        return self.bodies[-1]

    def close(self) -> Node:
        if self.token.kind is TokenKind.FOR:
            assert self.token.code is not None
            return ForBlock(self.token.code, tuple(self.bodies[0]), self.token.at)
        conditions = len(self.heads) - self.has_else
        branches = []
        for head, body in zip(self.heads[:conditions], self.bodies, strict=False):
            assert head.code is not None
            branches.append(Branch(head.code, tuple(body), head.at))
        orelse = tuple(self.bodies[-1]) if self.has_else else None
        return IfBlock(tuple(branches), orelse, self.token.at)


def parse(source_map: SourceMap) -> tuple[Node, ...]:
    """Parses a template into its tree.

    Args:
        source_map: The template and its line map.

    Returns:
        The top-level nodes in document order; adjacent texts are merged.

    Raises:
        PymlSyntaxError: When the template is malformed.
    """
    return _Parser(source_map).run()


class _Parser:
    def __init__(self, source_map: SourceMap) -> None:
        self.map = source_map
        self.root: list[Node] = []
        self.open: list[_OpenBlock] = []
        self.body = self.root

    def run(self) -> tuple[Node, ...]:
        for token in tokenize(self.map):
            self._token(token)
        if self.open:
            block = self.open[-1]
            raise self.map.error(
                block.token.at, f"unclosed @{block.keyword} (add @/{block.keyword})"
            )
        return tuple(self.root)

    def _token(self, token: Token) -> None:
        kind = token.kind
        if kind is TokenKind.TEXT:
            self._add_text(token)
        elif kind in _OUTPUT_KINDS:
            assert token.code is not None
            self.body.append(Output(kind, token.code, token.at))
        elif kind is TokenKind.CODE:
            assert token.code is not None
            self.body.append(CodeBlock(token.code, token.at))
        elif kind in (TokenKind.IF, TokenKind.FOR):
            block = _OpenBlock(token)
            self.open.append(block)
            self.body = block.start_branch(token)
        elif kind is TokenKind.ELIF:
            block = self._innermost_if(token, "elif")
            if block.has_else:
                raise self.map.error(token.at, "@elif after @else (move it before the @else:)")
            self.body = block.start_branch(token)
        elif kind is TokenKind.ELSE:
            block = self._innermost_if(token, "else")
            if block.has_else:
                line, column = self.map.line_and_column(block.token.at)
                raise self.map.error(
                    token.at,
                    f"second @else: for the @if at line {line} column {column + 1} "
                    "(an @if has one @else:; use @elif CONDITION: for more branches)",
                )
            block.has_else = True
            self.body = block.start_branch(token)
        else:
            self._close(token, "if" if kind is TokenKind.END_IF else "for")

    def _add_text(self, token: Token) -> None:
        body = self.body
        if body and isinstance(last := body[-1], Text):
            body[-1] = Text(last.value + token.text, last.at)
        else:
            body.append(Text(token.text, token.at))

    def _innermost_if(self, token: Token, keyword: str) -> _OpenBlock:
        if self.open and self.open[-1].token.kind is TokenKind.IF:
            return self.open[-1]
        if self.open:
            raise self._still_open(token, f"@{keyword}", self.open[-1])
        raise self.map.error(
            token.at, f"@{keyword} without an open @if (write @@{keyword} for literal text)"
        )

    def _close(self, token: Token, keyword: str) -> None:
        if not self.open:
            raise self.map.error(
                token.at,
                f"@/{keyword} without an open @{keyword} (write @@/{keyword} for literal text)",
            )
        block = self.open[-1]
        if block.keyword != keyword:
            raise self._still_open(token, f"@/{keyword}", block)
        self.open.pop()
        self.body = self.open[-1].bodies[-1] if self.open else self.root
        self.body.append(block.close())

    def _still_open(self, token: Token, found: str, block: _OpenBlock) -> Exception:
        line, column = self.map.line_and_column(block.token.at)
        return self.map.error(
            token.at,
            f"{found} found while the @{block.keyword} at line {line} column {column + 1} "
            f"is still open (add @/{block.keyword} before it)",
        )
