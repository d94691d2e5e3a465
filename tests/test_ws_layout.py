"""The shape of krait/_ws/: small modules that say what they own, and no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WS_DIR = Path(__file__).resolve().parent.parent / "krait" / "_ws"
MODULES = sorted(WS_DIR.glob("*.py"))


def krait_imports(path: Path) -> set[str]:
    """The krait modules ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("krait"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("krait"))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_each_module_is_short_and_opens_with_a_docstring(path: Path) -> None:
    assert len(path.read_text().splitlines()) < 400
    assert ast.get_docstring(ast.parse(path.read_text()))


def test_the_ws_modules_import_each_other_without_a_cycle() -> None:
    graph = {f"krait._ws.{path.stem}": krait_imports(path) for path in MODULES}
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, " -> ".join((*trail, module))
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*trail, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_no_ws_module_imports_inside_a_function() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                nested = [
                    n for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)
                ]
                assert not nested, f"{path.name}: {function.name} imports inside"
