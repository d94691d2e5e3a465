import sys

import krait


class AboutController(object):
    """Not routed: about.py (a plain script target) hands it to krait.mvc.set_init_ctrl."""

    def __init__(self, python_version):
        super(AboutController, self).__init__()

        self.page_url = "/about"
        self.python_version = python_version
        self.site_root = krait.site_root

    def get_view(self):
        return ".view/about.html"


def python_version():
    return "%d.%d" % sys.version_info[:2]
