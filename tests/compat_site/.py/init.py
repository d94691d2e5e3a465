# Runs once at start-up, as in the original Krait's demo site: routes, client caching, TLS and
# the guestbook's database. Written the way Krait 1.0 sites were: a bare `import krait`, then
# krait.config, krait.mvc, ... through it.
import os
import sqlite3

import krait

import global_config


# The page controllers in .py/ctrl/ add their own routes (krait.mvc.route_ctrl_decorator).
krait.mvc.import_ctrls_from("ctrl")


# A route's ctrl_class may be any callable that returns a controller.
def simple_page():
    return krait.mvc.SimpleCtrl(".view/simple.html", {
        "page_url": "/simple",
        "greeting": "Hello from a SimpleCtrl",
    })


# POSTs and WebSocket upgrades must be routed explicitly. The last route is a default one, so
# that every other file of the site (scripts, CSS, JavaScript) is still served.
krait.config.routes.extend([
    krait.config.Route(url="/simple", ctrl_class=simple_page),
    krait.config.Route("POST", url="/comment"),
    krait.config.Route("POST", url="/upload"),
    krait.config.Route("WEBSOCKET", url="/ws_socket"),
    krait.config.Route(),
])

# Caching uses regexes that must match the whole path (so "." is escaped).
krait.config.cache_public = [".*\\.js", ".*\\.css"]
krait.config.cache_long_term = [".*\\.js", ".*\\.css"]
krait.config.cache_max_age_default = 6 * 60  # 6 minutes
krait.config.cache_max_age_long_term = 24 * 60 * 60  # 24 hours

# HTTPS: the certificate and the (encrypted) key live in .private/ssl/, never served. They
# are read only when the server is given an HTTPS port.
ssl_dir = krait.get_full_path(os.path.join(".private", "ssl"))
krait.config.ssl_certificate_path = os.path.join(ssl_dir, "cert.pem")
krait.config.ssl_private_key_path = os.path.join(ssl_dir, "key.pem")
passphrase_file = os.path.join(ssl_dir, "pk_passphrase")
if os.path.exists(passphrase_file):
    with open(passphrase_file) as f:
        krait.config.ssl_key_passphrase = f.read().strip()

# The guestbook lives in an sqlite database in .private/.
if not os.path.isdir(os.path.dirname(global_config.sqlite_db)):
    os.makedirs(os.path.dirname(global_config.sqlite_db))
conn = sqlite3.connect(global_config.sqlite_db)
conn.execute("create table if not exists messages (name text, message text)")
conn.commit()
conn.close()

print("compat site: init.py ran, %d routes" % len(krait.config.routes))
