"""Parsing Pyml: what each ``@`` construct is, where Python pieces end, and parse errors."""

from __future__ import annotations

import pytest

from krait._pyml import CompiledTemplate, PymlSyntaxError, compile_template
from krait._pyml._errors import SourceMap
from krait._pyml._lexer import Fragment, TokenKind
from krait._pyml._tree import CodeBlock, ForBlock, IfBlock, Node, Output, Text, parse


def tree(source: str) -> tuple[Node, ...]:
    return parse(SourceMap(source, "t.html"))


def only_output(source: str) -> Output:
    nodes = [node for node in tree(source) if not isinstance(node, Text)]
    assert len(nodes) == 1
    node = nodes[0]
    assert isinstance(node, Output)
    return node


def syntax_error(source: str, filename: str = "t.html") -> PymlSyntaxError:
    with pytest.raises(PymlSyntaxError) as caught:
        compile_template(source, filename)
    return caught.value


def test_text_without_at_sign_is_static() -> None:
    template = compile_template("<p>{ } % \\ </p>", "static.html")
    assert template == CompiledTemplate("static.html", False, "<p>{ } % \\ </p>", None)


@pytest.mark.parametrize("source", ["a@@b", "a @ b", "@", "<p>@x@</p>"])
def test_any_at_sign_makes_a_template_dynamic(source: str) -> None:
    template = compile_template(source, "t.html")
    assert template.is_dynamic
    assert template.code is not None
    assert template.text == source


def test_double_at_sign_is_literal_text() -> None:
    assert tree("mail@@example.org") == (Text("mail@example.org", 0),)


@pytest.mark.parametrize("source", ["a @ b", "a @\tb", "a @\nb", "a @"])
def test_lone_at_sign_before_whitespace_or_end_is_dropped(source: str) -> None:
    assert tree(source) == (Text(source.replace("@", ""), 0),)


@pytest.mark.parametrize(
    ("source", "expression"),
    [
        ("@iffy", "iffy"),
        ("@format(x)", "format(x)"),
        ("@elsewhere", "elsewhere"),
        ("@importx", "importx"),
        ("@forx", "forx"),
        ("@elifant", "elifant"),
    ],
)
def test_words_starting_with_keywords_are_expressions(source: str, expression: str) -> None:
    output = only_output(source)
    assert output.kind is TokenKind.ESCAPED
    assert output.code.text == expression


@pytest.mark.parametrize(
    ("source", "expression", "rest"),
    [
        ("@x says", "x", " says"),
        ("<h4>@h@</h4>", "h", "</h4>"),
        ("@a['b c']@!", "a['b c']", "!"),
        ('@a["@"] b', 'a["@"]', " b"),
        ("@pw[:8]@.", "pw[:8]", "."),
        ("@a[1 + 2]@", "a[1 + 2]", ""),
        ("@f(x, y) z", "f(x, y)", " z"),
        ("@({'a': 1}['a'])", "({'a': 1}['a'])", ""),
        ("@(1 + 1)", "(1 + 1)", ""),
        ("@'it\\'s' x", "'it\\'s'", " x"),
        ("@x.y\n", "x.y", "\n"),
    ],
)
def test_expression_runs_to_whitespace_or_at_outside_brackets_and_strings(
    source: str, expression: str, rest: str
) -> None:
    output = only_output(source)
    assert output.code.text == expression
    assert source.endswith(rest)
    texts = [node for node in tree(source) if isinstance(node, Text)]
    assert "".join(text.value for text in texts).endswith(rest)


def test_closing_bracket_that_closes_nothing_ends_the_expression() -> None:
    nodes = tree('<a onclick="f(@x)">')
    assert isinstance(nodes[1], Output)
    assert nodes[1].code.text == "x"
    assert nodes[2] == Text(')">', 16)


def test_trailing_at_sign_is_consumed_so_x_at_at_slash_for_ends_a_loop() -> None:
    (loop,) = tree("@for x in y:@x@@/for")
    assert isinstance(loop, ForBlock)
    assert [type(node) for node in loop.body] == [Output]


def test_raw_output_is_marked_raw() -> None:
    output = only_output("@!r@ id")
    assert output.kind is TokenKind.RAW
    assert output.code.text == "r"


@pytest.mark.parametrize(
    ("source", "condition"),
    [
        ("@if x: yes @/if", "x"),
        ("@if x[1:2]: yes @/if", "x[1:2]"),
        ("@if x == ':': yes @/if", "x == ':'"),
        ("@if {'a': 1}.get(k): yes @/if", "{'a': 1}.get(k)"),
        ("@if (lambda a: a)(x): yes @/if", "(lambda a: a)(x)"),
        ("@if\n  x : yes @/if", "x"),
    ],
)
def test_if_condition_ends_at_first_colon_at_depth_zero_outside_strings(
    source: str, condition: str
) -> None:
    (block,) = tree(source)
    assert isinstance(block, IfBlock)
    assert block.branches[0].condition.text == condition
    assert block.branches[0].body == (Text(" yes ", source.index(" yes")),)


@pytest.mark.parametrize(
    ("source", "header"),
    [
        ("@for name, message in ctrl.messages:x@/for", "name, message in ctrl.messages"),
        ("@for k in sorted(d, key=lambda a: a):x@/for", "k in sorted(d, key=lambda a: a)"),
        ("@for k in {'a': 1, 'b': 2}:x@/for", "k in {'a': 1, 'b': 2}"),
        ("@for c in 'a:b':x@/for", "c in 'a:b'"),
        ("@for x in items[1:]:x@/for", "x in items[1:]"),
    ],
)
def test_for_header_ends_at_first_colon_at_depth_zero(source: str, header: str) -> None:
    (loop,) = tree(source)
    assert isinstance(loop, ForBlock)
    assert loop.header.text == header
    assert loop.body == (Text("x", source.index(":x") + 1),)


def test_elif_and_else_make_branches() -> None:
    source = "@if a:A@elif b:B@elif c:C@else :D@/if"
    (block,) = tree(source)
    assert isinstance(block, IfBlock)
    assert [branch.condition.text for branch in block.branches] == ["a", "b", "c"]
    assert [branch.body for branch in block.branches] == [
        (Text("A", source.index("A")),),
        (Text("B", source.index("B")),),
        (Text("C", source.index("C")),),
    ]
    assert block.orelse == (Text("D", source.index("D")),)


def test_if_without_else_has_no_else_branch() -> None:
    (block,) = tree("@if a:A@/if")
    assert isinstance(block, IfBlock)
    assert block.orelse is None


def test_blocks_nest() -> None:
    (outer,) = tree("@for row in rows:@if row:@for c in row:@c@@/for@@/if@@/for")
    assert isinstance(outer, ForBlock)
    (inner,) = outer.body
    assert isinstance(inner, IfBlock)
    (loop,) = inner.branches[0].body
    assert isinstance(loop, ForBlock)
    assert loop.header.text == "c in row"


def test_block_keywords_swallow_one_whitespace_and_end_keywords_keep_theirs() -> None:
    nodes = tree("@if x: yes @/if >z")
    assert isinstance(nodes[0], IfBlock)
    assert nodes[0].branches[0].body == (Text(" yes ", 6),)
    assert nodes[1] == Text(" >z", 15)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("@{ x = {'a': 1} }", " x = {'a': 1} "),
        ("@{ s = '}' }", " s = '}' "),
        ('@{ s = """ } { """ }', ' s = """ } { """ '),
        ("@{\n  d = {\n    'k': {}\n  }\n}", "\n  d = {\n    'k': {}\n  }\n"),
    ],
)
def test_code_block_ends_at_closing_brace_outside_strings(source: str, code: str) -> None:
    (block,) = tree(source)
    assert isinstance(block, CodeBlock)
    assert block.code.text == code


def test_several_code_blocks_share_a_line() -> None:
    nodes = tree("@{a = 1}@{b = 2} x")
    assert [type(node) for node in nodes] == [CodeBlock, CodeBlock, Text]


def test_import_and_import_ctrl_take_an_expression_and_keep_their_terminator() -> None:
    source = '@import ".view/top.html"\n@import-ctrl ctrl.sidebar@!'
    nodes = tree(source)
    assert nodes == (
        Output(TokenKind.INCLUDE, Fragment('".view/top.html"', 8), 0),
        Text("\n", 24),
        Output(TokenKind.INCLUDE_CTRL, Fragment("ctrl.sidebar", 38), 25),
        Text("!", len(source) - 1),
    )


def test_error_reads_file_line_column_and_reason() -> None:
    error = syntax_error("<p>\n\n    @if ctrl.ok:\n", ".view/index.html")
    assert (error.filename, error.line, error.column) == (".view/index.html", 3, 5)
    assert error.reason == "unclosed @if (add @/if)"
    assert str(error) == ".view/index.html:3:5: unclosed @if (add @/if)"


@pytest.mark.parametrize(
    ("source", "line", "column", "reason"),
    [
        ("@x's", 1, 3, "unterminated string literal"),
        ("ab\n @a[1", 2, 4, "'[' is never closed"),
        ("@f(x]", 1, 5, "']' does not close the '('"),
        ("x\n@{ x = 1\n", 2, 1, "unterminated @{ block"),
        ("@{ x = 'a }", 1, 8, "unterminated string literal in @{ } block"),
        ("\n  @if x:\n", 2, 3, "unclosed @if (add @/if)"),
        ("@for x in y:\n", 1, 1, "unclosed @for (add @/for)"),
        ("@if a:@for x in y:@/if", 1, 19, "@/if found while the @for at line 1 column 7"),
        ("@if x: @else: @else: @/if", 1, 15, "second @else: for the @if at line 1 column 1"),
        ("@if x: @else: @elif y: @/if", 1, 15, "@elif after @else"),
        ("a @else:", 1, 3, "@else without an open @if"),
        ("@elif x:", 1, 1, "@elif without an open @if"),
        ("@for x in y:@else:@/for", 1, 13, "@else found while the @for"),
        ("x @/if", 1, 3, "@/if without an open @if"),
        ("@/for", 1, 1, "@/for without an open @for"),
        ("@/for</ul>", 1, 1, "@/for must be followed by whitespace, @ or the end"),
        ("@if :x@/if", 1, 1, "@if needs a condition"),
        ("@if x\n<p>y: z</p>", 1, 1, "the @if header has no ':' at the end of its line"),
        ("@elif", 1, 1, "incomplete @elif"),
        ("@if", 1, 1, "incomplete @if"),
        ("@else x", 1, 1, "incomplete @else"),
        ("@for x:@/for", 1, 1, "@for needs 'in'"),
        ("@for in y:@/for", 1, 1, "@for has no loop names before 'in'"),
        ("@for x in :@/for", 1, 1, "@for has an empty collection"),
        ("@import @", 1, 1, "@import needs an expression"),
        ("@import-ctrl ", 1, 1, "@import-ctrl needs an expression"),
        ("(@)", 1, 2, "starts no expression"),
        ("@!", 1, 1, "@! needs an expression"),
        ("é @(1 +* 2)", 1, 8, "invalid Python in expression: invalid syntax"),
        ("@if a b: x @/if", 1, 7, "invalid Python in @if condition"),
        ("@if a:@elif b c:@/if", 1, 15, "invalid Python in @elif condition"),
        ("@for 1 in x:@/for", 1, 6, "invalid Python in @for header"),
        ("@import (1 +)@", 1, 13, "invalid Python in @import path"),
        ("x\n@{\n    a = 1\n    b = = 2\n}", 4, 9, "invalid Python in @{ } block"),
        ("@{\n\tif x:\n\t\tbreak\n}", 3, 3, "'break' outside loop"),
        ("@{ yield 1 }", 1, 4, "yield cannot be used in a template"),
        ("@(yield)", 1, 3, "yield cannot be used in a template"),
        ("@{ \0 }", 1, 4, "invalid Python in @{ } block"),
    ],
)
def test_parse_errors_name_line_column_and_fix(
    source: str, line: int, column: int, reason: str
) -> None:
    error = syntax_error(source)
    assert (error.line, error.column) == (line, column), str(error)
    assert reason in error.reason
    assert error.filename == "t.html"


@pytest.mark.parametrize(
    ("source", "column", "fix"),
    [
        ("<li>@item</li>", 10, "@item@"),
        ("Hello @ctrl.name.", 17, "@ctrl.name@"),
        ("@ctrl.items[0]!", 15, "@ctrl.items[0]@"),
        ("<b>@ctrl.f(1)</b>", 14, "@ctrl.f(1)@"),
        ("<b>@(a + b)</b>", 12, "@(a + b)@"),
        ("@!raw</p>", 6, "@!raw@"),
        ('@import ".view/a.html"<br>', 23, '@import ".view/a.html"@'),
        ("@import-ctrl ctrl.sub<br>", 22, "@import-ctrl ctrl.sub@"),
    ],
)
def test_text_right_after_an_expression_teaches_the_closing_at_sign(
    source: str, column: int, fix: str
) -> None:
    """The column is where the ``@`` belongs."""
    error = syntax_error(source)
    assert (error.line, error.column) == (1, column), str(error)
    assert error.reason.endswith(f"end the expression with @ when text follows it directly: {fix}")


@pytest.mark.parametrize("source", ["@ctrl.f(1 +* 2)", "@(1 +* 2)</b>", "@3.5x"])
def test_expression_broken_inside_gets_no_closing_at_sign_hint(source: str) -> None:
    error = syntax_error(source)
    assert "end the expression with @" not in error.reason
    assert "invalid Python in expression" in error.reason


def test_closing_at_sign_hint_leaves_huge_expressions_alone() -> None:
    error = syntax_error("@x" + "." * 1000)
    assert "end the expression with @" not in error.reason


def test_yield_inside_a_function_defined_by_the_template_is_allowed() -> None:
    compile_template("@{\ndef numbers():\n    yield 1\n}", "t.html")


def test_errors_count_lines_as_python_does() -> None:
    error = syntax_error("a\r\nb\rc\n@if x:")
    assert (error.line, error.column) == (4, 1)


def test_python_error_columns_inside_a_dedented_block_are_template_columns() -> None:
    error = syntax_error("@{\n        ok = 1\n        bad = )\n}")
    assert (error.line, error.column) == (3, 15)


def test_python_error_on_second_line_of_an_expression_is_located() -> None:
    error = syntax_error("<p>@(1 +\n   2 +* 3)</p>")
    assert (error.line, error.column) == (2, 7)


def test_python_warnings_name_the_template_line() -> None:
    with pytest.warns(DeprecationWarning) as record:
        compile_template("\n\n@('\\d')", "w.html")
    assert (record[0].filename, record[0].lineno) == ("w.html", 3)
