"""Compiling a template's tree into one Python function.

A template becomes ``def __pyml_render(__pyml_hooks, __pyml_out, __pyml_escape)``: text and
``@expr`` outputs between two statements are joined by a single f-string and appended to the
output list once, ``@{ }`` blocks are inlined as statements, ``@if`` and ``@for`` become real
``if`` and ``for`` statements. Every node carries its template line, so tracebacks point at
the template.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from krait._pyml._errors import PymlSyntaxError, SourceMap
from krait._pyml._fragments import parse_expression, parse_for_header, parse_statements
from krait._pyml._lexer import TokenKind
from krait._pyml._tree import CodeBlock, ForBlock, IfBlock, Node, Output, Text, parse

RENDER_FUNCTION = "__pyml_render"
_HOOKS = "__pyml_hooks"
_OUT = "__pyml_out"
_ESCAPE = "__pyml_escape"
_EMIT = "__pyml_emit"
_MAX_PARTS = 200
"""Most pieces joined by one f-string, so long runs do not need a huge value stack."""
_STR_CONVERSION = ord("s")
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_NodeT = TypeVar("_NodeT", bound=ast.AST)


@dataclass(frozen=True)
class CompiledTemplate:
    """A compiled Pyml template.

    Attributes:
        filename: The file name given to :func:`compile_template`; tracebacks use it.
        is_dynamic: False when the text contains no ``@`` at all: rendering then returns
            ``text`` unchanged.
        text: The template source.
        code: The code object of the render function, or ``None`` for a static template.
    """

    filename: str
    is_dynamic: bool
    text: str
    code: types.CodeType | None


def compile_template(source: str, filename: str) -> CompiledTemplate:
    """Compiles Pyml source.

    Args:
        source: The template text (a BOM, if any, is part of the text).
        filename: The file name used in errors and tracebacks.

    Returns:
        The compiled template.

    Raises:
        PymlSyntaxError: When the template is malformed; the error names the file, line and
            column and says how to fix it.
    """
    if "@" not in source:
        return CompiledTemplate(filename, False, source, None)
    source_map = SourceMap(source, filename)
    try:
        nodes = parse(source_map)
        module = _Compiler(source_map).module(nodes)
        code = _compile_module(source_map, module)
    except RecursionError:
        raise source_map.error(0, "the template nests blocks too deeply") from None
    return CompiledTemplate(filename, True, source, code)


def _compile_module(source_map: SourceMap, module: ast.Module) -> types.CodeType:
    try:
        module_code = compile(module, source_map.filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise _located_error(source_map, error) from None
    for constant in module_code.co_consts:
        if isinstance(constant, types.CodeType) and constant.co_name == RENDER_FUNCTION:
            # Tracebacks then read 'File "index.html", line 12, in <template>'.
            return constant.replace(co_name="<template>", co_qualname="<template>")
    raise AssertionError("the render function is missing from the compiled module")


def _located_error(source_map: SourceMap, error: SyntaxError) -> PymlSyntaxError:
    """Maps an error of the final compile (positions are template lines and byte columns)."""
    line = error.lineno or 1
    column = _char_column(source_map, line, (error.offset or 1) - 1)
    return source_map.error_at(line, column, f"invalid Python: {error.msg}")


class _Compiler:
    def __init__(self, source_map: SourceMap) -> None:
        self.map = source_map

    def module(self, nodes: Sequence[Node]) -> ast.Module:
        body = self._prologue() + self._statements(nodes)
        _reject_yield(self.map, body)
        arguments = ast.arguments(
            posonlyargs=[],
            args=[ast.arg(_HOOKS), ast.arg(_OUT), ast.arg(_ESCAPE)],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        )
        function = ast.FunctionDef(
            name=RENDER_FUNCTION, args=arguments, body=body, decorator_list=[], returns=None
        )
        module = ast.Module(body=[function], type_ignores=[])
        return ast.fix_missing_locations(module)

    def _prologue(self) -> list[ast.stmt]:
        """``emit = out.append``, ``krait = hooks.krait`` and ``ctrl = hooks.current_ctrl()``."""
        hooks = _name(_HOOKS)
        current_ctrl = ast.Call(ast.Attribute(_name(_HOOKS), "current_ctrl", ast.Load()), [], [])
        statements: list[ast.stmt] = [
            ast.Assign(
                [_name(_EMIT, ast.Store())], ast.Attribute(_name(_OUT), "append", ast.Load())
            ),
            ast.Assign([_name("krait", ast.Store())], ast.Attribute(hooks, "krait", ast.Load())),
            ast.Assign([_name("ctrl", ast.Store())], current_ctrl),
        ]
        return [self._locate(statement, 0) for statement in statements]

    def _statements(self, nodes: Sequence[Node]) -> list[ast.stmt]:
        statements: list[ast.stmt] = []
        run: list[Text | Output] = []
        for node in nodes:
            if isinstance(node, Text | Output):
                run.append(node)
                continue
            self._flush(run, statements)
            if isinstance(node, CodeBlock):
                statements.extend(parse_statements(self.map, node.code))
            elif isinstance(node, IfBlock):
                statements.append(self._if(node))
            else:
                statements.append(self._for(node))
        self._flush(run, statements)
        return statements

    def _flush(self, run: list[Text | Output], statements: list[ast.stmt]) -> None:
        """Turns pending text and outputs into ``emit(f"...")`` statements."""
        for first in range(0, len(run), _MAX_PARTS):
            chunk = run[first : first + _MAX_PARTS]
            parts = [self._part(item) for item in chunk]
            value = parts[0] if len(parts) == 1 else self._joined(parts, chunk[0].at)
            if isinstance(value, ast.FormattedValue):
                value = self._joined([value], chunk[0].at)
            call = ast.Call(_name(_EMIT), [value], [])
            statements.append(self._locate(ast.Expr(self._locate(call, chunk[0].at)), chunk[0].at))
        run.clear()

    def _part(self, item: Text | Output) -> ast.expr:
        """Returns a constant, an escape call, or a ``FormattedValue`` converting with str()."""
        if isinstance(item, Text):
            return self._locate(ast.Constant(item.value), item.at)
        if item.kind is TokenKind.ESCAPED:
            value = parse_expression(self.map, item.code, "expression", "@")
            return self._locate(ast.Call(_name(_ESCAPE), [value], []), item.at)
        if item.kind is TokenKind.RAW:
            value = parse_expression(self.map, item.code, "expression", "@!")
        else:
            include = item.kind is TokenKind.INCLUDE
            what = "@import path" if include else "@import-ctrl controller"
            method = "include" if include else "include_ctrl"
            lead = "@import " if include else "@import-ctrl "
            argument = parse_expression(self.map, item.code, what, lead)
            function = ast.Attribute(_name(_HOOKS), method, ast.Load())
            value = self._locate(ast.Call(function, [argument], []), item.at)
        return self._locate(ast.FormattedValue(value, _STR_CONVERSION, None), item.at)

    def _joined(self, parts: list[ast.expr], at: int) -> ast.expr:
        values: list[ast.expr] = [
            part
            if isinstance(part, ast.Constant | ast.FormattedValue)
            else self._locate(ast.FormattedValue(part, -1, None), at)
            for part in parts
        ]
        return self._locate(ast.JoinedStr(values), at)

    def _if(self, node: IfBlock) -> ast.stmt:
        tests: list[tuple[ast.expr, list[ast.stmt], int]] = []
        for branch in node.branches:
            keyword = "@if" if branch.at == node.at else "@elif"
            test = parse_expression(self.map, branch.condition, f"{keyword} condition")
            tests.append((test, self._body(branch.body, branch.at), branch.at))
        orelse = [] if node.orelse is None else self._body(node.orelse, node.at)
        for test, body, at in reversed(tests):
            orelse = [self._locate(ast.If(test, body, orelse), at)]
        return orelse[0]

    def _for(self, node: ForBlock) -> ast.stmt:
        target, iterable = parse_for_header(self.map, node.header)
        loop = ast.For(target, iterable, self._body(node.body, node.at), [], None)
        return self._locate(loop, node.at)

    def _body(self, nodes: Sequence[Node], at: int) -> list[ast.stmt]:
        return self._statements(nodes) or [self._locate(ast.Pass(), at)]

    def _locate(self, node: _NodeT, offset: int) -> _NodeT:
        """Places a generated node at the template ``offset``; children get it later."""
        line, _ = self.map.line_and_column(offset)
        column = self.map.byte_column(offset)
        node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
        node.col_offset = node.end_col_offset = column  # type: ignore[attr-defined]
        return node


def _name(identifier: str, context: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(identifier, context or ast.Load())


def _reject_yield(source_map: SourceMap, body: list[ast.stmt]) -> None:
    """Refuses ``yield`` in the template's own scope: it would make rendering a generator."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            column = _char_column(source_map, node.lineno, node.col_offset)
            raise source_map.error_at(
                node.lineno, column, "yield cannot be used in a template (emit text instead)"
            )
        if not isinstance(node, _NESTED_SCOPES):
            pending.extend(ast.iter_child_nodes(node))


def _char_column(source_map: SourceMap, line: int, byte_column: int) -> int:
    """Converts a UTF-8 byte column of a template line into a character column."""
    text = source_map.line_text(line).encode("utf-8", "surrogatepass")
    return len(text[: max(byte_column, 0)].decode("utf-8", "ignore"))
