# /counter: counts your visits in a cookie with krait.cookie; /counter?reset=1 forgets it.
from krait import cookie
from krait.mvc import SimpleCtrl, set_init_ctrl

if "reset" in krait.request.query:
    forget = cookie.Cookie("visits", "0")
    forget.set_path("/counter")
    forget.set_max_age(0)
    cookie.set_cookie(forget)
    return krait.ResponseRedirect("/counter")

try:
    visits = int(cookie.get_cookie("visits", "0")) + 1
except ValueError:
    visits = 1
counter = cookie.Cookie("visits", str(visits))
counter.set_path("/counter")
counter.set_max_age(365 * 24 * 3600)
counter.set_http_only(True)
counter.set_same_site("Lax")
cookie.set_cookie(counter)

set_init_ctrl(
    SimpleCtrl(".view/counter.html", {"title": "Counter", "visits": visits, "header": str(counter)})
)
