import krait

form = krait.request.get_multipart_form()
if form is None:
    # Not a multipart/form-data request.
    krait.response = krait.ResponseBadRequest()
else:
    lines = []
    for part in form:
        lines.append("%s %s %s %d" % (part.name, part.filename, part.content_type, len(part.data)))
    krait.set_content_type(raw="text/plain")
    krait.response = krait.Response("HTTP/1.1", 200, [], "\n".join(lines))
