"""A site that uses ``krait.session`` everywhere, shared by the session tests.

``/set.py?key=<json>`` stores values, ``/get.py`` shows them with the session id,
``/page.pyml`` and the controller at ``/ctrl`` read ``user``, ``/rotate.py`` and ``/clear.py``
call those methods, ``/ws?kind=async|thread`` upgrades to a controller that greets the
session's user, and ``/bad.py`` and ``/stream.py`` break the rules.
"""

from __future__ import annotations

SECRET = "a secret of at least thirty-two bytes, for the tests"

INIT = f"""\
import krait
from krait.config import Route
from ctrls import UserCtrl

krait.config.secret_key = {SECRET!r}
krait.config.routes = [
    Route(url="/ctrl", ctrl_class=UserCtrl),
    Route("WEBSOCKET", url="/ws", target="ws.py"),
    Route("POST", regex="/.*"),
    Route(),
]
"""

CTRLS = """\
import krait
from krait.mvc import CtrlBase
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsCtrlBase


class UserCtrl(CtrlBase):
    def __init__(self):
        self.user = krait.session.get("user", "nobody")

    def get_view(self):
        return ".view/user.html"


class AsyncHello(WebsocketsAsyncCtrlBase):
    def on_open(self):
        self.send(f"hello {krait.session.get('user', 'nobody')}")

    def on_message(self, message):
        try:
            krait.session["user"] = message
        except Exception as error:
            self.send(type(error).__name__)


class ThreadHello(WebsocketsCtrlBase):
    def on_thread_start(self):
        self.push_out_message(f"hello {krait.session.get('user', 'nobody')}")
        while not self.should_stop():
            if self.pop_in_message(timeout=0.5) is not None:
                self.push_out_message(repr(dict(krait.session)))
"""

SITE = {
    ".py/init.py": INIT,
    ".py/ctrls.py": CTRLS,
    ".view/user.html": "<p>ctrl sees @ctrl.user@</p>",
    "set.py": (
        "import json\n"
        "for key, value in krait.request.query.items():\n"
        "    krait.session[key] = json.loads(value)\n"
        "return {'id': krait.session.id}\n"
    ),
    "get.py": "return {'id': krait.session.id, 'data': dict(krait.session)}\n",
    "page.pyml": "<p>page sees @krait.session.get('user', 'nobody')@</p>",
    "rotate.py": "krait.session.rotate()\nreturn {'id': krait.session.id}\n",
    "clear.py": "krait.session.clear()\nreturn {'cleared': True}\n",
    "login.py": (
        "krait.session.rotate()\n"
        "krait.session['user'] = krait.request.query['name']\n"
        "krait.response = krait.ResponseRedirect('/page.pyml')\n"
    ),
    "plain.py": "return 'no session here'\n",
    "bad.py": "import datetime\nkrait.session['when'] = datetime.date.today()\n",
    "stream.py": (
        "def body():\n"
        "    yield 'before '\n"
        "    try:\n"
        "        krait.session['late'] = 1\n"
        "    except Exception as error:\n"
        "        yield type(error).__name__\n"
        "return body()\n"
    ),
    "ws.py": (
        "from ctrls import AsyncHello, ThreadHello\n"
        "from krait.websockets import WebsocketsResponse\n"
        "kind = krait.request.query.get('kind')\n"
        "ctrl = AsyncHello() if kind == 'async' else ThreadHello()\n"
        "krait.websockets.response = WebsocketsResponse(ctrl)\n"
    ),
}
