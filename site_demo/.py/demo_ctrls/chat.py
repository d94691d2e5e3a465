"""``/chat``: a chat room between browser tabs, over the WebSocket at ``/chat/socket``."""

import itertools
import threading

from demo_ctrls.base import PageCtrl
from krait.mvc import route_ctrl_decorator

# Pages are rendered in the thread pool, so the guest counter is guarded.
_guests = itertools.count(1)
_guests_lock = threading.Lock()


@route_ctrl_decorator(url="/chat")
class ChatCtrl(PageCtrl):
    """The chat page: a suggested name; ``js/chat.js`` does the talking."""

    title = "Chat"
    socket_path = "/chat/socket"

    def __init__(self):
        with _guests_lock:
            self.guest_name = f"guest{next(_guests)}"

    def get_view(self):
        return ".view/chat.html"
