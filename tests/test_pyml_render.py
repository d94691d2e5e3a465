"""Rendering Pyml: outputs, escaping, whitespace, blocks, includes, scopes and tracebacks."""

from __future__ import annotations

import traceback
import types
from typing import Any

import pytest
from pyml_examples import SPEC_EXAMPLE

from krait._pyml import (
    CompiledTemplate,
    RenderHooks,
    compile_template,
    dedent_code,
    escape_html,
    render,
)


class FakeHooks:
    """Hooks whose includes return marker strings, so tests can see where they were called."""

    def __init__(self, ctrl: Any = None, krait: Any = None) -> None:
        self.ctrl = ctrl
        self.krait = krait if krait is not None else types.SimpleNamespace(name="krait module")
        self.calls: list[str] = []

    def current_ctrl(self) -> Any:
        return self.ctrl

    def include(self, path: Any) -> str:
        self.calls.append(f"include {path}")
        return f"[include {path}]"

    def include_ctrl(self, ctrl: Any) -> str:
        self.calls.append(f"include_ctrl {ctrl}")
        return f"[ctrl {ctrl}]"


def run(source: str, ctrl: Any = None, hooks: RenderHooks | None = None) -> str:
    return render(compile_template(source, "t.html"), hooks or FakeHooks(ctrl))


def ns(**values: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(**values)


@pytest.mark.parametrize(
    ("source", "ctrl", "expected"),
    [
        ("a@@b", None, "a@b"),
        ("a @ b", None, "a  b"),
        ("@ctrl.x says", ns(x="<x>"), "&lt;x&gt; says"),
        ("<h4>@ctrl.h@</h4>", ns(h="H&H"), "<h4>H&amp;H</h4>"),
        ("@!ctrl.r@ id", ns(r="<b>"), "<b> id"),
        ("@(1 + 1)", None, "2"),
        ("@if ctrl: yes @/if >z", True, " yes  >z"),
        ("@if ctrl: yes @/if >z", False, " >z"),
        ("@for a, b in ctrl:[@a@]@/for@", [(1, 2), (3, 4)], "[1][3]"),
        ("@{ x = {'a': 1} }@x['a']", None, "1"),
        ("@ctrl[1 + 2]@", [0, 1, 2, 3], "3"),
    ],
)
def test_grammar_cases_of_spec_section_11(source: str, ctrl: Any, expected: str) -> None:
    assert run(source, ctrl) == expected


def spec_ctrl(**changes: Any) -> types.SimpleNamespace:
    values: dict[str, Any] = {
        "user_name": "Ann & Bo",
        "unread": 3,
        "links": [("Home", "/"), ("A<b>", "/a?x=1&y=2")],
        "hour": 23,
        "items": ["one", "two"],
        "row_id": 7,
        "label": "<L>",
        "sidebar": "SB",
    }
    values.update(changes)
    return ns(**values)


def test_spec_example_renders_every_construct() -> None:
    content_types: list[dict[str, str]] = []
    krait = ns(set_content_type=lambda **kwargs: content_types.append(kwargs))
    hooks = FakeHooks(spec_ctrl(), krait)
    assert run(SPEC_EXAMPLE, hooks=hooks) == (
        "\n"
        "[include .view/layout_top.html]\n"
        "<p>Hello, Ann &amp; Bo! You have 3 messages.</p>\n"
        "<ul>\n"
        '\n    <li><a href="/">Home</a></li>\n'
        '\n    <li><a href="/a?x=1&amp;y=2">A&lt;b&gt;</a></li>\n'
        "\n"
        "</ul>\n"
        "\n"
        '<h2 class="late">Hello</h2>\n'
        "\n  <p>2 items, first: one</p>\n"
        "\n"
        '<span id="row-7-label">&lt;L&gt;</span>\n'
        "[ctrl SB]\n"
    )
    assert content_types == [{"ext": "html"}]
    assert hooks.calls == ["include .view/layout_top.html", "include_ctrl SB"]


def test_spec_example_takes_the_else_branch_and_keeps_the_escaped_at_sign() -> None:
    krait = ns(set_content_type=lambda **kwargs: None)
    text = run(SPEC_EXAMPLE, hooks=FakeHooks(spec_ctrl(items=[], hour=9), krait))
    assert "\n  <p>Nothing yet. Write to us at help@example.org.</p>\n\n<span" in text
    assert "<h2 >Good morning</h2>" in text


def test_json_view_emits_raw_output() -> None:
    assert run("@{ import json }@!json.dumps(ctrl)@", {"a": [1, "<"]}) == '{"a": [1, "<"]}'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("@ctrl\n", "v\n"),
        ("@ctrl\tx", "v\tx"),
        ("(@ctrl)", "(v)"),
        ("@if ctrl:\n  yes\n@/if\nafter", "\n  yes\n\nafter"),
        ("@if not ctrl: no @else: yes @/if", " yes "),
        ("  @if ctrl:\n    in\n  @/if\n", "  \n    in\n  \n"),
        ("@if ctrl:A@/if@B", "AB"),
        ("@for c in ctrl:@c@ @/for .", "v  ."),
        ('@import "f"\nx', "[include f]\nx"),
        ('@import "f"@x', "[include f]x"),
        ('@import   "f" x', "[include f] x"),
        ("@import-ctrl ctrl@!", "[ctrl v]!"),
        ("@import-ctrl ctrl y", "[ctrl v] y"),
        ("@{ }@{\n\n}x", "x"),
        ("@{a = 1}@{b = 2}@(a + b)", "3"),
        ("\ufeff<p>@ctrl@</p>", "\ufeff<p>v</p>"),
    ],
)
def test_whitespace_is_kept_exactly_as_written(source: str, expected: str) -> None:
    assert run(source, "v") == expected


def test_if_elif_else_picks_first_true_branch() -> None:
    source = "@if ctrl < 0:neg@elif ctrl == 0:zero@elif ctrl < 10:small@else:big@/if"
    assert [run(source, n) for n in (-1, 0, 5, 50)] == ["neg", "zero", "small", "big"]


def test_elif_without_else_renders_nothing_when_all_false() -> None:
    assert run("[@if ctrl == 1:one@elif ctrl == 2:two@/if@]", 3) == "[]"


def test_empty_branches_are_allowed() -> None:
    assert run("@if ctrl:@else:no@/if@|@for x in ctrl:@/for", [1]) == "|"


def test_nested_loops_and_conditions() -> None:
    source = "@for row in ctrl:<tr>@for cell in row:@if cell:<td>@cell@</td>@/if@@/for@</tr>@/for"
    assert run(source, [[1, 0, 2], [3]]) == "<tr><td>1</td><td>2</td></tr><tr><td>3</td></tr>"


@pytest.mark.parametrize(
    ("source", "ctrl", "expected"),
    [
        ("@if ctrl[1:2]:slice@/if", [0, 1], "slice"),
        ("@if {'a': ctrl}['a']:dict@/if", 1, "dict"),
        ("@for k in sorted(ctrl, key=lambda a: -a):@k@@/for", [1, 3, 2], "321"),
        ("@for k, v in {'a': 1}.items():@k@=@v@@/for", None, "a=1"),
        ("@for (a, (b, c)) in ctrl:@a@@b@@c@@/for", [(1, (2, 3))], "123"),
        ("@ctrl['a b']@", {"a b": "x"}, "x"),
        ("@ctrl[:2]@.", "abc", "ab."),
        ("@('@' + ctrl)@", "x", "@x"),
        ('@(f"{ctrl!r}")', "q", "&apos;q&apos;"),
    ],
)
def test_brackets_protect_colons_spaces_and_at_signs(source: str, ctrl: Any, expected: str) -> None:
    assert run(source, ctrl) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<b>&\"'", "&lt;b&gt;&amp;&quot;&apos;"),
        ("plain", "plain"),
        (12, "12"),
        (None, "None"),
        ("&amp;", "&amp;amp;"),
        ("é <ü>", "é &lt;ü&gt;"),
    ],
)
def test_escape_html_escapes_the_five_special_characters(value: Any, expected: str) -> None:
    assert escape_html(value) == expected


def test_expression_output_is_escaped_and_raw_output_is_not() -> None:
    assert run("@ctrl@|@!ctrl", "<a href='x'>&") == (
        "&lt;a href=&apos;x&apos;&gt;&amp;|<a href='x'>&"
    )


def test_outputs_use_str_of_non_string_values() -> None:
    class Shown:
        def __str__(self) -> str:
            return "<shown>"

    assert run("@ctrl@ @!ctrl@ @(1.5) @(None)", Shown()) == "&lt;shown&gt; <shown> 1.5 None"


def test_static_template_renders_its_text_unchanged() -> None:
    template = compile_template("<p>no constructs</p>", "s.html")
    assert render(template, FakeHooks()) is template.text


def test_ctrl_starts_as_current_controller_and_krait_needs_no_import() -> None:
    assert run("@ctrl.name / @krait.name", ns(name="c")) == "c / krait module"


def test_import_krait_inside_a_block_works() -> None:
    assert run("@{ import krait }@(krait.__name__)") == "krait"


def test_names_bound_by_a_render_are_local_to_it() -> None:
    template = compile_template(
        "@{\ntry:\n    seen += 1\nexcept NameError:\n    seen = 1\n}@seen", "t.html"
    )
    assert [render(template, FakeHooks()) for _ in range(3)] == ["1", "1", "1"]


def test_globals_declared_by_a_template_are_not_shared_between_renders() -> None:
    template = compile_template("@{\nglobal n\nn = globals().get('n', 0) + 1\n}@n", "t.html")
    assert [render(template, FakeHooks()) for _ in range(2)] == ["1", "1"]


def test_loop_variables_and_functions_see_template_locals() -> None:
    source = (
        "@{\nbase = 10\ndef shifted(n):\n    return base + n\n}@for i in [1, 2]:@shifted(i)@,@/for"
    )
    assert run(source) == "11,12,"


def test_code_blocks_are_dedented() -> None:
    source = '<p>\n    @{\n        x = """\n  kept\n"""\n        y = 2\n    }@!repr(x)@ @y@</p>'
    assert run(source) == "<p>\n    '\\n  kept\\n' 2</p>"


def test_return_in_a_block_ends_the_output_early() -> None:
    assert run("a@{ return }b") == "a"


def test_import_ctrl_with_at_terminator_is_still_import_ctrl() -> None:
    hooks = FakeHooks("c")
    assert run("<div>@import-ctrl ctrl@</div>", hooks=hooks) == "<div>[ctrl c]</div>"
    assert hooks.calls == ["include_ctrl c"]


def test_include_path_is_a_python_expression_evaluated_at_render_time() -> None:
    hooks = FakeHooks(ns(sub_view=".view/sub.html"))
    assert run("@import ctrl.sub_view", hooks=hooks) == "[include .view/sub.html]"


def test_outputs_are_evaluated_in_document_order() -> None:
    hooks = FakeHooks()
    run('@import "a" @{ x = 1 }@import-ctrl x @import "b"', hooks=hooks)
    assert hooks.calls == ["include a", "include_ctrl 1", "include b"]


def test_errors_in_includes_propagate() -> None:
    class Failing(FakeHooks):
        def include(self, path: Any) -> str:
            raise FileNotFoundError(path)

    with pytest.raises(FileNotFoundError):
        run('@import "missing.html"', hooks=Failing())


def test_trailing_at_sign_of_an_expression_is_not_an_escaped_at_sign() -> None:
    assert run("@for x in ctrl:@x@@/for", [1, 2]) == "12"


def template_frames(error: BaseException, filename: str) -> list[int]:
    return [
        frame.lineno or 0
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == filename
    ]


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("<p>\n@ctrl.missing\n</p>", 2),
        ("a\nb\n@{\n    x = 1\n    y = ctrl.missing\n}", 5),
        ("@if True:\n\n  @(1 +\n    ctrl.missing)\n@/if", 4),
        ("@for x in [1]:\n@if ctrl.missing:@/if\n@/for", 2),
        ("x\n\n@for x in ctrl.missing:@/for", 3),
        ("@{\ndef f():\n    return ctrl.missing\n}\n\n@f()", 3),
        ("@import\nctrl.missing", 2),
    ],
)
def test_runtime_errors_point_at_the_template_line(source: str, line: int) -> None:
    template = compile_template(source, "/site/.view/page.html")
    with pytest.raises(AttributeError) as caught:
        render(template, FakeHooks(ns()))
    assert template_frames(caught.value, "/site/.view/page.html")[-1] == line


def test_traceback_names_the_template() -> None:
    template = compile_template("\n@ctrl.missing", "page.html")
    with pytest.raises(AttributeError) as caught:
        render(template, FakeHooks(ns()))
    (frame,) = [
        f for f in traceback.extract_tb(caught.value.__traceback__) if f.filename == "page.html"
    ]
    assert (frame.lineno, frame.name) == (2, "<template>")


def test_compiled_template_keeps_its_source_and_filename() -> None:
    template = compile_template("@x", "f.html")
    assert isinstance(template, CompiledTemplate)
    assert (template.filename, template.text, template.is_dynamic) == ("f.html", "@x", True)
    assert template.code is not None
    assert template.code.co_filename == "f.html"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("x = 1", "x = 1"),
        (" x = 1 ", "x = 1 "),
        ("\n    a = 1\n    if a:\n        b = 2\n", "\na = 1\nif a:\n    b = 2\n"),
        ("\n\tif a:\n\t\tb = 1\n", "\nif a:\n\tb = 1\n"),
        ("\n    a = 1\n\n    b = 2\n", "\na = 1\n\nb = 2\n"),
        ("\n  # note\n    a = 1\n", "\n  # note\na = 1\n"),
        ('\n    s = """\n  kept\n        too"""\n', '\ns = """\n  kept\n        too"""\n'),
        ("\n    s = 'it''s'\n    t = 2\n", "\ns = 'it''s'\nt = 2\n"),
        ("x = 1\n    y = 2", "x = 1\n    y = 2"),
    ],
)
def test_dedent_removes_first_code_line_indent_except_inside_strings(
    code: str, expected: str
) -> None:
    assert dedent_code(code) == expected


def test_dedent_keeps_the_number_of_lines() -> None:
    code = "\r\n    a = 1\r\n\r\n    b = '''\r\n x'''\r\n"
    assert dedent_code(code).count("\n") == code.count("\n")
