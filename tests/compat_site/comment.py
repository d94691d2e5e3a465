import datetime
import sqlite3

import krait

import global_config


post_form = krait.request.get_post_form()
name = post_form.get("name", "").strip() or "Anonymous"
message = post_form.get("text", "")

conn = sqlite3.connect(global_config.sqlite_db)
c = conn.cursor()
c.execute("insert into messages values (?, ?)", (name, message))
conn.commit()
conn.close()

# Post/redirect/get: the browser then GETs /db, where the new message is listed.
krait.response = krait.ResponseRedirect("/db")

new_cookie = krait.cookie.Cookie("comment_count", int(krait.cookie.get_cookie("comment_count", "0")) + 1)
new_cookie.set_expires(datetime.datetime.utcnow() + datetime.timedelta(minutes=1))
new_cookie.set_http_only(True)

krait.cookie.set_cookie(new_cookie)
