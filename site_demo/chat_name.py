# /chat/name (POST): remembers the visitor's chat name in the session, then back to /chat.
# A new session id at each change of name, as at a login (docs/sessions.md, "Rotation").
# A blank name changes nothing; any other method (a GET of /chat_name.py) just goes back.
from chat_room import clean_name

if krait.request.http_method == "POST":
    name = clean_name(krait.request.get_post_form().get("name", ""))
    if name is not None:
        krait.session.rotate()
        krait.session["name"] = name
return krait.ResponseRedirect("/chat")
