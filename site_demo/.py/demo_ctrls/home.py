"""``/``: the home page, with a sub-controller that shows a rotating tip."""

import itertools
import threading
from types import SimpleNamespace

import krait
from krait.mvc import CtrlBase, route_ctrl_decorator

from demo_ctrls.base import PageCtrl

TIPS = [
    "Every <code>.html</code> file is a Pyml template; one without any <code>@</code> "
    "construct is served as a static file, with an ETag and byte ranges.",
    "Edit a view in <code>.view/</code> and reload: templates are recompiled when they "
    "change, without a restart.",
    "Start the server with <code>--debug</code> to see template errors, with file, line and "
    "column, in the page.",
]

# Module state lives as long as the server and is shared by all requests: guard it.
_served = itertools.count(1)
_served_lock = threading.Lock()


class TipCtrl(CtrlBase):
    """One tip, chosen by how many home pages were served so far."""

    def __init__(self):
        with _served_lock:
            served = next(_served)
        self.total = len(TIPS)
        self.number = (served - 1) % self.total + 1
        self.text = TIPS[self.number - 1]

    def get_view(self):
        return ".view/tip.html"


@route_ctrl_decorator(url="/")
class HomeCtrl(PageCtrl):
    """The home page: a greeting, the demo's sections and a tip."""

    title = "Home"

    def __init__(self):
        self.visitor = krait.request.query.get("name", "visitor")
        self.cards = [
            SimpleNamespace(
                title="Static files",
                html="Try a byte range: <code>curl -r 0-99 "
                "http://127.0.0.1:8080/downloads/sample.bin</code>, or "
                '<a href="/downloads/sample.bin">download the sample file</a> (1 MiB).',
            ),
            SimpleNamespace(
                title="MVC and templates",
                html='<a href="/about">About</a> shows your request through a controller; '
                '<a href="/features">Features</a> embeds a Jinja2 view in a Pyml page.',
            ),
            SimpleNamespace(
                title="A JSON API for other sites",
                html='<a href="/api/guestbook">/api/guestbook</a> gives the guestbook as JSON, '
                "and <code>krait.config.cors</code> lets pages of any origin read it: try "
                "<code>await (await fetch(\"http://127.0.0.1:8080/api/guestbook\")).json()"
                "</code> in the console of another site. "
                '<a href="/api/guestbook/1">/api/guestbook/1</a> is the newest entry (a route '
                'parameter), <a href="/api/guestbook?field=name&amp;field=when">?field=name&amp;'
                "field=when</a> picks fields (a repeated key), a POST of JSON signs it, and "
                '<a href="/api/client">/api/client</a> shows your address as krait sees it.',
            ),
            SimpleNamespace(
                title="Health and metrics",
                html="<code>make demo</code> also serves "
                '<a href="http://127.0.0.1:9100/metrics">/metrics</a> for Prometheus and '
                '<a href="http://127.0.0.1:9100/health">/health</a> on a port of their own '
                "(<code>--metrics-listen</code>): reload this page and watch "
                '<code>krait_http_requests_total{kind="mvc"}</code> grow.',
            ),
        ]
        self.tip = TipCtrl()

    def get_view(self):
        return ".view/home.html"
