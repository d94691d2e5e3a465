import krait

import ctrl_about

krait.mvc.set_init_ctrl(ctrl_about.AboutController(ctrl_about.python_version()))
