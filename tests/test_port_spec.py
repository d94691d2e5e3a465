"""The original command line's port spec: ``8080/``, ``/8443``, ``80/443``, and what it refuses."""

from __future__ import annotations

import ast
import inspect

import pytest

import krait._port_spec
from krait._port_spec import InvalidPortSpec, PortSpec, parse_port_spec


def test_port_before_the_slash_is_http_only() -> None:
    assert parse_port_spec("8080/") == PortSpec(http=8080, https=None)


def test_port_after_the_slash_is_https_only() -> None:
    assert parse_port_spec("/8443") == PortSpec(http=None, https=8443)


def test_ports_on_both_sides_serve_both() -> None:
    assert parse_port_spec("80/443") == PortSpec(http=80, https=443)


def test_highest_and_lowest_ports_are_accepted() -> None:
    assert parse_port_spec("1/65535") == PortSpec(http=1, https=65535)


@pytest.mark.parametrize("spec", ["8080", "443", "", "80//443", "80/443/"])
def test_spec_without_exactly_one_slash_is_refused_with_the_three_forms(spec: str) -> None:
    with pytest.raises(InvalidPortSpec, match="exactly one '/'") as raised:
        parse_port_spec(spec)
    assert "'8080/'" in str(raised.value) and "'/8443'" in str(raised.value)


def test_lone_slash_names_no_port() -> None:
    with pytest.raises(InvalidPortSpec, match="names no port"):
        parse_port_spec("/")


@pytest.mark.parametrize(
    ("spec", "side"),
    [
        ("http/", "'http'"),
        ("0/", "'0'"),
        ("65536/", "'65536'"),
        ("/-1", "'-1'"),
        ("/+443", "'\\+443'"),
        (" 80/", "' 80'"),
        ("8_0/", "'8_0'"),
        ("\u0668\u0660/", "'\u0668\u0660'"),
    ],
)
def test_side_that_is_not_a_port_number_is_named(spec: str, side: str) -> None:
    with pytest.raises(InvalidPortSpec, match=f"port {side} is not a port number"):
        parse_port_spec(spec)


def test_https_side_is_named_as_https() -> None:
    with pytest.raises(InvalidPortSpec, match="the HTTPS port 'x'"):
        parse_port_spec("80/x")


def test_same_port_for_both_schemes_is_refused() -> None:
    with pytest.raises(InvalidPortSpec, match="port 8080 for both HTTP and HTTPS"):
        parse_port_spec("8080/8080")


def test_invalid_spec_is_a_value_error() -> None:
    assert issubclass(InvalidPortSpec, ValueError)


def test_parser_is_pure_and_imports_no_twisted() -> None:
    tree = ast.parse(inspect.getsource(krait._port_spec))
    imported = [
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    ]
    assert imported == ["__future__", "dataclasses"]
