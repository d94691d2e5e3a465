"""The anchors of ``bench_scripts.py``: hello-world on plain twisted.web and on Klein.

    python bench/hello_servers.py resource PORT
    python bench/hello_servers.py klein PORT

Both listen on 127.0.0.1:PORT, answer every GET with :data:`BODY` as ``text/plain`` and write
no access log, like krait started with ``--no-access-log``.
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
    parser.add_argument("kind", choices=["resource", "klein"])
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    root = Hello() if args.kind == "resource" else klein_resource()
    reactor.listenTCP(args.port, QuietSite(root), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
