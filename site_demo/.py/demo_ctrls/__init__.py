"""The demo's MVC controllers, one module per page.

``.py/init.py`` calls ``krait.mvc.import_ctrls_from("demo_ctrls")``, which imports every module
here in sorted order; the ``route_ctrl_decorator`` calls in them add the pages' routes.
"""
