"""``/chat``: a chat room between browser tabs, over the WebSocket at ``/chat/socket``."""

import krait
from demo_ctrls.base import PageCtrl
from krait.mvc import route_ctrl_decorator


@route_ctrl_decorator(url="/chat")
class ChatCtrl(PageCtrl):
    """The chat page: the name form, and once the session has a name, the room itself."""

    title = "Chat"
    socket_path = "/chat/socket"
    name_path = "/chat/name"

    def __init__(self):
        self.name = krait.session.get("name")

    def get_view(self):
        return ".view/chat.html"
