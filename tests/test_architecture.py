"""The shape of the package, pinned: pure cores need no Twisted, and no import cycles.

A pure core decides from plain values and is tested with plain values; the day one of them
imports Twisted, its tests start needing a reactor. An import cycle makes the order of
imports matter and tempts function-local imports; STYLE.md forbids both.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "krait"

PURE_CORES = (
    "krait",
    "krait._access_log",
    "krait._caching",
    "krait._compression",
    "krait._context",
    "krait._cookie_attributes",
    "krait._cookie_text",
    "krait._cors",
    "krait._deadlines",
    "krait._error_pages",
    "krait._debug_page",
    "krait._errors",
    "krait._forms",
    "krait._forwarded",
    "krait._framing",
    "krait._h2_limits",
    "krait._jobs",
    "krait._metrics_tally",
    "krait._mime",
    "krait._open_files",
    "krait._port_spec",
    "krait._pyml",
    "krait._ranges",
    "krait._ready",
    "krait._request",
    "krait._request_headers",
    "krait._responses",
    "krait._restart_policy",
    "krait._route_origins",
    "krait._routing",
    "krait._scripts",
    "krait._session",
    "krait._session_checks",
    "krait._session_codec",
    "krait._session_redis",
    "krait._session_store",
    "krait._site",
    "krait._site_checks",
    "krait._spool",
    "krait._targets",
    "krait._thread_policy",
    "krait._watch_rules",
    "krait._ws.channels",
    "krait._ws.handshake",
    "krait._ws.mailbox",
    "krait._ws.redis_wire",
    "krait.config",
    "krait.cookie",
    "krait.mvc",
)
FRAMEWORKS = ("twisted", "autobahn", "zope")


@pytest.mark.parametrize("module", PURE_CORES)
def test_pure_core_imports_no_twisted_or_autobahn(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({FRAMEWORKS!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{module} pulls in {done.stdout.strip()}"


def module_name(path: Path) -> str:
    """``krait/_ws/hub.py`` -> ``krait._ws.hub``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (REPO / relative).with_suffix(".py").exists() or (REPO / relative).is_dir()


def imported_modules(path: Path) -> Iterator[str]:
    """Every krait module ``path`` imports, wherever the import stands (functions and
    ``if TYPE_CHECKING:`` blocks included)."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            names = [
                f"{source}.{alias.name}" if is_module(f"{source}.{alias.name}") else source
                for alias in node.names
            ]
        else:
            continue
        yield from (name for name in names if name == "krait" or name.startswith("krait."))


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        graph[module_name(path)] = set(imported_modules(path)) - {module_name(path)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_inside_krait() -> None:
    """Package ``__init__`` modules count as what they are: ``from krait import _context``
    depends on ``krait._context``, ``import krait`` on the package itself."""
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(REPO))
)
def test_every_module_is_short_and_says_what_it_owns(path: Path) -> None:
    """STYLE.md: one concern per module, rarely past 400 lines, a docstring on top."""
    source = path.read_text()
    assert len(source.splitlines()) <= 400, f"{path.name} has grown past 400 lines: split it"
    assert ast.get_docstring(ast.parse(source)), f"{path.name} has no module docstring"


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(REPO))
)
def test_every_module_is_on_the_architecture_map(path: Path) -> None:
    """docs/architecture.md lists every module: a new one gets its line there."""
    name = path.parent.name if path.name == "__init__.py" else path.name
    assert name in (REPO / "docs" / "architecture.md").read_text(), (
        f"{path.relative_to(REPO)} is missing from docs/architecture.md's module map"
    )
