"""``/about``: what krait saw of your request."""

import krait
from krait.mvc import route_ctrl_decorator

from demo_ctrls.base import PageCtrl


@route_ctrl_decorator(url="/about")
class AboutCtrl(PageCtrl):
    """Shows the request line and a few headers (escaped by the view)."""

    title = "About"

    def __init__(self):
        request = krait.request
        self.rows = [
            ("Method", request.http_method),
            ("URL", request.url),
            ("Query", request.query_string or "(none)"),
            ("HTTP version", request.http_version),
            ("User-Agent", request.headers.get("user-agent", "(none)")),
        ]

    def get_view(self):
        return ".view/about.html"
