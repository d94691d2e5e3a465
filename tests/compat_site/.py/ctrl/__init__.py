# The site's MVC controllers; init.py imports them all with krait.mvc.import_ctrls_from("ctrl").
