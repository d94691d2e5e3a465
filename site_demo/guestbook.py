# /guestbook: GET shows the entries and the form; POST stores an entry and redirects back to
# the page (post/redirect/get), so that reloading it does not post the entry again.
import guestbook_store
from krait.mvc import SimpleCtrl, set_init_ctrl

form = {}
error = None
if krait.request.http_method == "POST":
    form = krait.request.get_post_form()
    error = guestbook_store.add(form.get("name", ""), form.get("message", ""))
    if error is None:
        return krait.ResponseRedirect("/guestbook")

set_init_ctrl(
    SimpleCtrl(
        ".view/guestbook.html",
        {
            "title": "Guestbook",
            "entries": guestbook_store.entries(),
            "error": error,
            "name": form.get("name", ""),
            "message": form.get("message", ""),
        },
    )
)
