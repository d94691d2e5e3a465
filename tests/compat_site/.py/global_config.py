# Globals that any module, script or template of the site can import.
import os
import threading

import krait


# These are used in .view/header.html
project_name = "Krait Compat"
header_items = [
    ("Home", "/"),
    ("DB Access", "/db"),
    ("Your Request", "/http"),
    ("Websockets", "/ws"),
    ("About", "/about"),
]

# This is used by .py/ctrl/db.py and comment.py
sqlite_db = os.path.join(krait.site_root, ".private", "db")

# Module state lives as long as the server process: every request sees the same counter.
page_views = 0
page_views_lock = threading.Lock()


def count_page_view():
    global page_views
    with page_views_lock:
        page_views += 1
        return page_views
