import krait


# Stacked decorators: the innermost one adds its route first.
@krait.mvc.route_ctrl_decorator(url="/http")
@krait.mvc.route_ctrl_decorator(regex="/http\\+.*")
class HttpController(object):
    def __init__(self):
        super(HttpController, self).__init__()

        self.page_url = "/http"
        query = krait.request.query
        self.request_str = "{} {}{} {}\n{}\n\n{}".format(
            krait.request.http_method,
            krait.request.url,
            "" if len(query) == 0 else "?" + "&".join(
                ["{}={}".format(key, value) for key, value in sorted(query.items())]),
            krait.request.http_version,
            "\n".join(["{}: {}".format(key, value)
                       for key, value in sorted(krait.request.headers.items())]),
            # The body is bytes on Python 3 (a str on Python 2): decode it to show it.
            krait.request.body.decode("utf-8", "replace"),
        )

    def get_view(self):
        return ".view/http.html"
