import sqlite3

import krait

import global_config
from ctrl import comment_count


@krait.mvc.route_ctrl_decorator(url="/db")
class DbController(object):
    def __init__(self):
        super(DbController, self).__init__()

        self.page_url = "/db"
        self.messages = None
        self.load_db(global_config.sqlite_db)
        self.comment_count = comment_count.CommentCountController()

    def load_db(self, db_filename):
        conn = sqlite3.connect(db_filename)
        c = conn.cursor()

        c.execute("select name, message from messages order by rowid")
        self.messages = c.fetchall()

        conn.close()

    def get_view(self):
        return ".view/db.html"
