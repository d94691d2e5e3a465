# /upload: GET shows the form; POST saves each file under .uploads/ (a hidden folder: never
# served) and shows its size and SHA-256. get_uploads() reads the body as a stream and keeps
# big parts on disk, so even a large file is never held in memory.
import hashlib
import os
import re
import tempfile

from krait.mvc import SimpleCtrl, set_init_ctrl


def safe_name(client_name):
    # The name comes from the client (maybe a Windows path): keep a plain last component.
    last = os.path.basename(client_name.replace("\\", "/"))
    return re.sub(r"[^A-Za-z0-9._-]", "_", last).lstrip(".")[:80] or "upload"


saved = []
if krait.request.http_method == "POST":
    folder = krait.get_full_path(".uploads")
    os.makedirs(folder, exist_ok=True)
    for part in krait.request.get_uploads():
        if not part.filename:
            continue
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".incoming-", delete=False) as out:
            while chunk := part.file.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        stored = f"{digest.hexdigest()[:12]}-{safe_name(part.filename)}"
        os.replace(out.name, os.path.join(folder, stored))
        saved.append((part.filename, part.size, digest.hexdigest(), stored))

set_init_ctrl(SimpleCtrl(".view/upload.html", {"title": "Upload", "saved": saved}))
