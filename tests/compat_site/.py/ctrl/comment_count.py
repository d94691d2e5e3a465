import krait


class CommentCountController(object):
    """A sub-controller, rendered inside other pages with @import-ctrl."""

    def __init__(self):
        super(CommentCountController, self).__init__()
        self.nr_comments = int(krait.cookie.get_cookie("comment_count", 0))

    def get_view(self):
        return ".view/comment_count.html"
