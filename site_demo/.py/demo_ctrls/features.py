"""``/features``: a Pyml page that embeds a Jinja2 view of a sub-controller."""

from types import SimpleNamespace

from krait.mvc import CtrlBase, route_ctrl_decorator

from demo_ctrls.base import PageCtrl


def _feature(name, where="", url=""):
    return SimpleNamespace(name=name, where=where, url=url)


class FeatureTableCtrl(CtrlBase):
    """The table of the demo's features; its view is a Jinja2 template."""

    features = [
        _feature("Static files, ETag, ranges", url="/downloads/sample.bin"),
        _feature("Brotli and gzip for pages, CSS and JS", url="/css/site.css"),
        _feature("MVC controllers by decorator", where=".py/demo_ctrls/"),
        _feature("Pyml views with a shared header", where=".view/header.html"),
        _feature("Jinja2 views", where=".view/feature_table.j2"),
        _feature("Your request, escaped", url="/about"),
        _feature("The site's own 404 page", url="/no-such-page"),
        _feature("The site's own 500 page", url="/oops"),
    ]
    sample = "<script>alert('not run')</script>"

    def get_view(self):
        return ".view/feature_table.j2"


@route_ctrl_decorator(url="/features")
class FeaturesCtrl(PageCtrl):
    """The page around the table."""

    title = "Features"

    def __init__(self):
        self.table = FeatureTableCtrl()

    def get_view(self):
        return ".view/features.html"
