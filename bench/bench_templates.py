"""Renders the same 1,000-row table with Pyml and with Jinja2 and prints renders per second.

Usage, from anywhere: ``python bench/bench_templates.py [RENDERS]`` (default 200 renders per
engine); the checkout this file belongs to is put on ``sys.path`` first. Both outputs are
checked to be the same page before anything is timed.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    # Run as a script, sys.path[0] is bench/; the krait of this checkout must win over any other.
    sys.path.insert(0, str(REPO))

from krait._pyml import compile_template, render  # noqa: E402 (needs the path set above)

ROWS = 1000

PYML_PAGE = """<!DOCTYPE html>
<html>
<head><title>@ctrl.title@</title></head>
<body>
<h1>@ctrl.title@</h1>
<table>
@for number, name, note in ctrl.rows:
  <tr class="row-@number@"><td>@number@</td><td>@name@</td><td>@note@</td></tr>
@/for
</table>
<p>@(len(ctrl.rows)) rows</p>
</body>
</html>
"""

JINJA_PAGE = """<!DOCTYPE html>
<html>
<head><title>{{ ctrl.title }}</title></head>
<body>
<h1>{{ ctrl.title }}</h1>
<table>
{% for number, name, note in ctrl.rows %}
  <tr class="row-{{ number }}"><td>{{ number }}</td><td>{{ name }}</td><td>{{ note }}</td></tr>
{% endfor %}
</table>
<p>{{ ctrl.rows|length }} rows</p>
</body>
</html>
"""


@dataclass(frozen=True)
class _Page:
    title: str
    rows: list[tuple[int, str, str]]


class _Hooks:
    """The smallest :class:`krait._pyml.RenderHooks`: a fixed controller, no includes."""

    krait: Any = types.SimpleNamespace()

    def __init__(self, ctrl: _Page) -> None:
        self._ctrl = ctrl

    def current_ctrl(self) -> Any:
        return self._ctrl

    def include(self, path: Any) -> str:
        raise NotImplementedError

    def include_ctrl(self, ctrl: Any) -> str:
        raise NotImplementedError


def _page() -> _Page:
    rows = [(n, f"name {n} <b>&\"'", f"note '{n}' & <i>\"more\"</i>") for n in range(ROWS)]
    return _Page("Rows <& \"quoted\" 'title'>", rows)


def _normalise(text: str) -> str:
    """Spells entities one way, so that ``&#34;`` (Jinja2) and ``&quot;`` (Pyml) compare equal
    (and ``&#39;`` or ``&#x27;`` with Pyml's ``&apos;``)."""
    return text.replace("&#34;", "&quot;").replace("&#x27;", "&apos;").replace("&#39;", "&apos;")


def _rate(function: Callable[[], str], renders: int) -> float:
    function()
    started = time.perf_counter()
    for _ in range(renders):
        function()
    return renders / (time.perf_counter() - started)


def main() -> None:
    """Checks both engines render the same page, times them and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("renders", nargs="?", type=int, default=200, help="renders per engine")
    renders = parser.parse_args().renders

    page = _page()
    pyml = compile_template(PYML_PAGE, "bench.html")
    hooks = _Hooks(page)
    jinja = jinja2.Environment(autoescape=True, keep_trailing_newline=True).from_string(JINJA_PAGE)

    def render_pyml() -> str:
        return render(pyml, hooks)

    def render_jinja() -> str:
        return jinja.render(ctrl=page)

    pyml_text, jinja_text = render_pyml(), render_jinja()
    if _normalise(pyml_text) != _normalise(jinja_text):
        raise SystemExit("the two engines rendered different pages")
    if "<b>" in pyml_text:
        raise SystemExit("values were not escaped")

    pyml_rate = _rate(render_pyml, renders)
    jinja_rate = _rate(render_jinja, renders)
    print(f"{ROWS}-row table, {renders} renders each, {len(pyml_text):,} characters per page")
    print(f"{'engine':<8} {'renders/s':>10} {'ratio':>6}")
    print(f"{'pyml':<8} {pyml_rate:>10.1f} {pyml_rate / jinja_rate:>6.2f}")
    print(f"{'jinja2':<8} {jinja_rate:>10.1f} {1.0:>6.2f}")


if __name__ == "__main__":
    main()
