import time

import krait

import global_config
from ctrl import comment_count


@krait.mvc.route_ctrl_decorator(url="/")
class IndexController(object):
    def __init__(self):
        super(IndexController, self).__init__()

        self.page_url = "/"
        self.time_str = time.strftime("%x")
        self.view_number = global_config.count_page_view()
        self.reasons = [
            ("Python!", "Why choose PHP when you can choose Python?"),
            ("Pyml", "Templates where @ is the only special character."),
        ]
        self.comment_count = comment_count.CommentCountController()

    def get_view(self):
        return ".view/index.html"
