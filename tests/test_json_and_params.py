"""JSON in and out, route parameters, repeated fields and PATCH, over HTTP (krait additions)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from conftest import Server, start_server, write_site

INIT = """\
from krait.config import Route
import ctrls

krait.config.routes = [
    Route("GET", url="/users/{id}", target="user.py"),
    Route("GET", regex=r"/blog/(?P<year>[0-9]{4})/(?P<slug>[a-z-]+)", target="user.py"),
    Route("GET", url="/ctrl/{name}", ctrl_class=ctrls.ParamCtrl),
    Route("POST", url="/echo-json", target="echo_json.py"),
    Route("GET", url="/created", target="created.py"),
    Route("PATCH", url="/item", target="patch.py"),
    Route("POST", url="/tags", target="tags.py"),
    Route(),
]
"""

FILES = {
    ".py/init.py": INIT,
    ".py/ctrls.py": (
        "import krait\n\n"
        "class ParamCtrl(object):\n"
        "    def __init__(self):\n"
        "        self.name = krait.request.params['name']\n"
        "    def get_view(self):\n"
        "        return '.view/param.html'\n"
    ),
    ".view/param.html": "<p>hello @ctrl.name@</p>\n",
    "user.py": "return {'params': krait.request.params, 'url': krait.request.url}\n",
    "echo_json.py": "return {'got': krait.request.get_json()}\n",
    "created.py": "return krait.ResponseJson(['é', 1], 201, [('X-Made', 'yes')])\n",
    "patch.py": "return 'patched ' + krait.request.body.decode()\n",
    "tags.py": (
        "return {'form': krait.request.get_post_form_all(),\n"
        "        'query': krait.request.get_query_all(), 'last': krait.request.query}\n"
    ),
    "plain.py": "return {'params': krait.request.params}\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = write_site(tmp_path_factory.mktemp("json-site"), FILES)
    server = start_server(root, tmp_path_factory.mktemp("json-logs"))
    yield server
    server.stop()


def test_a_returned_dict_is_sent_as_utf8_json(site: Server) -> None:
    response = requests.get(site.url + "/users/42", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"params": {"id": "42"}, "url": "/users/42"}


def test_named_regex_groups_reach_the_script_as_params(site: Server) -> None:
    response = requests.get(site.url + "/blog/2026/hello-world", timeout=10)
    assert response.json()["params"] == {"year": "2026", "slug": "hello-world"}


def test_a_controller_sees_the_route_parameters(site: Server) -> None:
    assert requests.get(site.url + "/ctrl/ada", timeout=10).text == "<p>hello ada</p>\n"


def test_routes_without_parameters_give_an_empty_dict(site: Server) -> None:
    assert requests.get(site.url + "/plain", timeout=10).json() == {"params": {}}


def test_get_json_reads_a_json_body(site: Server) -> None:
    response = requests.post(site.url + "/echo-json", json={"name": "Zoë", "n": [1, 2]}, timeout=10)
    assert response.json() == {"got": {"name": "Zoë", "n": [1, 2]}}


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"Content-Type": "application/json"}, b'{"a": ', "not valid JSON"),
        ({"Content-Type": "text/plain"}, b"{}", "not &#x27;application/json&#x27;"),
    ],
)
def test_a_body_that_is_not_json_gets_400_with_the_reason(
    site: Server, headers: dict[str, str], body: bytes, reason: str
) -> None:
    response = requests.post(site.url + "/echo-json", data=body, headers=headers, timeout=10)
    assert response.status_code == 400
    assert reason in response.text


def test_response_json_sets_status_headers_and_type(site: Server) -> None:
    response = requests.get(site.url + "/created", timeout=10)
    assert response.status_code == 201
    assert response.headers["X-Made"] == "yes"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.content == '["é",1]'.encode()


def test_patch_routes_take_patch_and_others_get_405_with_allow(site: Server) -> None:
    assert requests.patch(site.url + "/item", data=b"x", timeout=10).text == "patched x"
    refused = requests.put(site.url + "/item", data=b"x", timeout=10)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS, PATCH"  # Route() takes GET too


def test_repeated_form_and_query_keys_keep_every_value(site: Server) -> None:
    response = requests.post(
        site.url + "/tags?f=1&f=2",
        data=[("tag", "red"), ("tag", "blue"), ("note", "hi")],
        timeout=10,
    )
    assert response.json() == {
        "form": {"tag": ["red", "blue"], "note": ["hi"]},
        "query": {"f": ["1", "2"]},
        "last": {"f": "2"},
    }
