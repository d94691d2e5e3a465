import json
import os

import krait

import global_config
import ticker_ws

index_view = krait.get_full_path(".view/index.html")
info = {
    "site_root": krait.site_root,
    "index_view": index_view,
    "index_view_exists": os.path.isfile(index_view),
    "page_views": global_config.page_views,
    "tickers_running": ticker_ws.running,
}

krait.extra_headers.append(("X-Project-Name", global_config.project_name))
krait.set_content_type(ext="json")
krait.response = krait.Response("HTTP/1.1", 200, [], json.dumps(info, sort_keys=True))
