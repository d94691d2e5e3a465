"""The anchors of ``bench_scripts.py`` and ``bench_all.py``: plain twisted.web, Klein, Jinja2.

    python bench/hello_servers.py resource PORT
    python bench/hello_servers.py klein PORT
    python bench/hello_servers.py jinja PORT

Each listens on 127.0.0.1:PORT and writes no access log, like krait started with
``--no-access-log``. ``resource`` and ``klein`` answer every GET with :data:`BODY` as
``text/plain``; ``jinja`` renders :data:`JINJA_PAGE` (the page ``bench_all.py`` serves with
Pyml and with an MVC controller) from a plain Resource.
"""

from __future__ import annotations

import argparse
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Site

BODY = b"Hello, World!\n"
"""The bytes every server in the benchmark answers with."""


class Hello(Resource):
    """A leaf answering every GET with :data:`BODY`."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return BODY


ROWS = [(number, f"item <{number}>") for number in range(20)]
"""The rows of the benchmark page (escaped on the way out)."""

JINJA_PAGE = """<!DOCTYPE html>
<html><head><title>Items</title></head><body>
<ul>
{% for number, name in rows %}<li class="row-{{ number }}">{{ number }}: {{ name }}</li>
{% endfor %}</ul>
</body></html>
"""


class JinjaPage(Resource):
    """A leaf rendering :data:`JINJA_PAGE` with Jinja2 for every GET."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        import jinja2

        self.template = jinja2.Environment(autoescape=True).from_string(JINJA_PAGE)

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return self.template.render(rows=ROWS).encode()


class QuietSite(Site):
    """A Site without an access log."""

    def log(self, request: Any) -> None:
        pass


def klein_resource() -> Resource:
    """The same page as :class:`Hello`, routed by Klein."""
    from klein import Klein

    app = Klein()

    @app.route("/", branch=True)
    def hello(request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return BODY

    resource: Resource = app.resource()
    return resource


def main() -> None:
    """Parses the command line and serves until killed."""
    from twisted.internet import reactor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["resource", "klein", "jinja"])
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    roots = {"resource": Hello, "klein": klein_resource, "jinja": JinjaPage}
    root = roots[args.kind]()
    reactor.listenTCP(args.port, QuietSite(root), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
