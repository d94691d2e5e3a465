# Runs once at start-up: routes and client-cache rules for the demo site.
import os

from demo_secret import fallback_secret_key

import krait
from krait.config import Route
from krait.mvc import import_ctrls_from

# The MVC pages (/, /about, /features) route themselves: see .py/demo_ctrls/.
import_ctrls_from("demo_ctrls")

krait.config.routes += [
    Route("POST", url="/guestbook"),
    Route("POST", url="/upload"),
    Route("POST", url="/chat/name", target="chat_name.py"),
    Route("WEBSOCKET", url="/chat/socket", target="chat_socket.py"),
    # A plain GET of the socket URL gets the script's 426 page instead of a 404 from Route().
    Route("GET", url="/chat/socket", target="chat_socket.py"),
    # The JSON API (api/*.py): a POST of JSON, and a route parameter taken by a named group.
    Route("POST", url="/api/guestbook", target="api/guestbook.py"),
    Route("GET", regex=r"/api/guestbook/(?P<number>[0-9]{1,6})", target="api/entry.py"),
    Route(),
]

# The demo's own error pages, in its look (a hidden folder: they have no URL of their own).
krait.config.error_pages = {404: ".view/errors/404.html", 500: ".view/errors/500.html"}

# Fingerprint-free assets may be cached for a while; the download is public. The MVC pages
# ("." is the home page) may be kept by the browser for a while, not by shared caches.
krait.config.cache_private = [r"\.", r"about", r"features"]
krait.config.cache_public = [r"css/.*", r"js/.*", r"img/.*"]
krait.config.cache_long_term = [r"img/.*", r"downloads/.*", r"favicon\.ico"]
krait.config.cache_no_store = [r"guestbook", r"counter"]

# /api/ is a small read-only JSON API: pages of any origin may read it (see docs/cors.md).
krait.config.cors = krait.config.Cors("*", allow_methods=["GET"], paths=[r"/api/.*"])

# The chat keeps the visitor's name in the session (a signed cookie): every instance behind one
# proxy needs the same key, so set KRAIT_DEMO_SECRET_KEY there. Without it the demo still runs,
# with a key of its own, shared by its workers (see .py/demo_secret.py).
krait.config.secret_key = os.environ.get("KRAIT_DEMO_SECRET_KEY") or fallback_secret_key(
    krait.site_root
)

# The chat's channel lives in this process unless Redis is named, here or with --pubsub-url;
# with --workers N or several instances it must be, or each process chats on its own.
if os.environ.get("KRAIT_DEMO_PUBSUB_URL"):
    krait.config.pubsub_url = os.environ["KRAIT_DEMO_PUBSUB_URL"]
