# Runs once at start-up: routes and client-cache rules for the demo site.
import krait
from krait.config import Route

krait.config.routes = [
    Route("POST", url="/guestbook"),
    Route("POST", url="/upload"),
    Route("WEBSOCKET", url="/chat/socket", target="chat_socket.py"),
    Route(),
]

# Fingerprint-free assets may be cached for a while; the download is public.
krait.config.cache_public = [r"css/.*", r"js/.*", r"img/.*"]
krait.config.cache_long_term = [r"img/.*", r"downloads/.*"]
krait.config.cache_no_store = [r"guestbook", r"counter"]
