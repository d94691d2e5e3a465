# /api/guestbook/{number}: one entry, 1 being the newest. The route's url template captures
# the number (see .py/init.py); the script reads it from krait.request.params.
import guestbook_store

entries = guestbook_store.entries()
number = int(krait.request.params["number"])
if not 1 <= number <= len(entries):
    return krait.ResponseJson({"error": f"there are {len(entries)} entries"}, 404)
name, message, when = entries[number - 1]
return {"number": number, "name": name, "message": message, "when": when}
