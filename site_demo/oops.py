# /oops: fails on purpose, to show the demo's 500 page (.view/errors/500.html). The traceback
# goes to the server log only; with --debug, krait's debug page shows it instead.
raise RuntimeError("/oops fails on purpose, to show the demo's 500 page")
