# /api/guestbook: the guestbook as JSON. GET lists the entries, newest first; with
# ?field=name&field=when (a repeated query key: get_query_all keeps every value) only those
# fields. POST takes a JSON body {"name": ..., "message": ...} (get_json answers 400 for a
# body that is no JSON) and answers 201. krait.config.cors (in .py/init.py) lets pages of any
# origin read the list with fetch(); posting stays with this site's own pages.
import guestbook_store

FIELDS = ("name", "message", "when")

if krait.request.http_method == "POST":
    entry = krait.request.get_json()
    if not isinstance(entry, dict):
        return krait.ResponseJson({"error": 'send a JSON object {"name": ..., "message": ...}'}, 400)
    name, message = entry.get("name"), entry.get("message")
    if not isinstance(name, str) or not isinstance(message, str):
        return krait.ResponseJson({"error": '"name" and "message" must be strings'}, 400)
    error = guestbook_store.add(name, message)
    if error is not None:
        return krait.ResponseJson({"error": error}, 400)
    return krait.ResponseJson({"stored": True}, 201)

wanted = [field for field in krait.request.get_query_all().get("field", []) if field in FIELDS]
krait.response = krait.ResponseJson(
    {
        "entries": [
            {field: value for field, value in zip(FIELDS, entry) if field in (wanted or FIELDS)}
            for entry in guestbook_store.entries()
        ]
    }
)
