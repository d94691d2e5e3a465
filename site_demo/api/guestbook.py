# /api/guestbook: the guestbook's entries as JSON, newest first. krait.config.cors (in
# .py/init.py) lets pages of any origin read it with fetch().
import guestbook_store

krait.response = krait.ResponseJson(
    {
        "entries": [
            {"name": name, "message": message, "when": when}
            for name, message, when in guestbook_store.entries()
        ]
    }
)
