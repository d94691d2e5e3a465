"""Properties of Pyml that hold for any text: robustness of the compiler and exact text."""

from __future__ import annotations

import html
import types
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krait._pyml import PymlSyntaxError, compile_template, dedent_code, escape_html, render

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")

PYML_PIECES = st.sampled_from(
    [
        "@",
        "@@",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ":",
        "'",
        '"',
        "\n",
        " ",
        "\\",
        "!",
        "x",
        "ctrl",
        "if",
        "elif",
        "else",
        "for",
        "in",
        "/",
        "/if",
        "/for",
        "import",
        "import-ctrl",
        "@if ",
        "@for ",
        "@else:",
        "@/if",
        "@/for",
        "@{",
        "@(",
        "@!",
        "#",
        ",",
        "=",
        "1",
        "\t",
        "\r",
        "é",
        "\ufeff",
    ]
)
PYML_LIKE_TEXT = st.lists(PYML_PIECES, max_size=40).map("".join)


class PermissiveHooks:
    """Hooks that accept anything, so rendering random templates only fails in their code."""

    krait: Any = types.SimpleNamespace()

    def current_ctrl(self) -> Any:
        return [1, 2]

    def include(self, path: Any) -> str:
        return "[include]"

    def include_ctrl(self, ctrl: Any) -> str:
        return "[ctrl]"


@given(st.text().map(lambda text: text.replace("@", "")))
def test_text_without_at_sign_renders_unchanged(text: str) -> None:
    template = compile_template(text, "t.html")
    assert not template.is_dynamic
    assert render(template, PermissiveHooks()) == text


@given(st.lists(st.text().map(lambda text: text.replace("@", ""))))
def test_text_with_every_at_sign_doubled_renders_with_single_at_signs(parts: list[str]) -> None:
    template = compile_template("@@".join(parts), "t.html")
    assert render(template, PermissiveHooks()) == "@".join(parts)


def assert_compiles_or_reports(source: str) -> None:
    try:
        template = compile_template(source, "t.html")
    except PymlSyntaxError as error:
        lines = source.count("\n") + source.count("\r") + 1
        assert 1 <= error.line <= lines + 1
        assert error.column >= 1
        assert str(error).startswith(f"t.html:{error.line}:{error.column}: ")
        return
    assert template.text == source
    assert template.is_dynamic == ("@" in source)


@given(st.text())
def test_any_text_compiles_or_raises_a_pyml_syntax_error(source: str) -> None:
    assert_compiles_or_reports(source)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(PYML_LIKE_TEXT)
def test_pyml_like_text_compiles_or_raises_a_pyml_syntax_error(source: str) -> None:
    assert_compiles_or_reports(source)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(PYML_LIKE_TEXT)
def test_compiled_pyml_like_text_renders_to_text_or_raises_an_ordinary_error(source: str) -> None:
    try:
        template = compile_template(source, "t.html")
    except PymlSyntaxError:
        return
    try:
        output = render(template, PermissiveHooks())
    except Exception:
        return
    assert isinstance(output, str)


@given(st.text())
def test_escaped_text_has_no_special_characters_and_unescapes_to_the_input(text: str) -> None:
    escaped = escape_html(text)
    assert not set(escaped) & set("<>\"'")
    assert html.unescape(escaped) == text


@given(st.text())
def test_escaped_expression_output_equals_escape_html(text: str) -> None:
    template = compile_template("@ctrl", "t.html")

    class Hooks(PermissiveHooks):
        def current_ctrl(self) -> Any:
            return text

    assert render(template, Hooks()) == escape_html(text)


@given(st.text(alphabet=" \t\n\r#'\"xy=:"))
def test_dedent_keeps_every_line(code: str) -> None:
    dedented = dedent_code(code)
    assert dedented.count("\n") + dedented.count("\r") == code.count("\n") + code.count("\r")
    if not code.startswith((" ", "\t", "\n", "\r")):
        assert dedented == code
