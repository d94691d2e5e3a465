"""What ``krait.session`` costs a page, in process: microseconds per page beside a sessionless one.

Each row runs a one-line ``.py`` page through krait's ``PageRenderer.run`` (what a page thread
does: decode nothing, activate the request state, run the script, save the session, assemble
the answer) with the request's session cookie. The anchor is the same page not touching the
session; the rows read or write one value in a signed-cookie session and, when redis-server is
on the PATH (or ``--redis URL`` is given), in a Redis session. The last row is the price
every page pays whether it uses the session or not: making the request's slot and committing
it untouched. Best of ``--rounds`` rounds of ``--pages`` pages each.

    python bench/bench_sessions.py [--pages 2000] [--rounds 5] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import REPO, free_port, stop_process, wait_for

sys.path.insert(0, str(REPO))

from krait import Request
from krait._pages import PageJob, PageRenderer
from krait._session_store import SessionSettings

SECRET = "a benchmark secret of at least thirty-two bytes"
PAGES = {
    "plain.py": "return 'hi'\n",
    "read.py": "return str(krait.session.get('user'))\n",
    "write.py": "krait.session['n'] = krait.session.get('n', 0) + 1\nreturn 'hi'\n",
}


def request(cookie: str | None) -> Request:
    headers = {"Cookie": f"krait_session={cookie}"} if cookie else {}
    return Request("GET", "/", "", "HTTP/1.1", headers, b"")


def session_cookie(renderer: PageRenderer, site: Path) -> str:
    """The cookie of a session holding ``user`` and ``n``, made by a page of the site."""
    (site / "login.py").write_text("krait.session['user'] = 'ada'\nkrait.session['n'] = 0\n")
    result = renderer.run(PageJob("script", str(site / "login.py")), request(None))
    header = dict(result.headers)["Set-Cookie"]
    return header.split(";")[0].partition("=")[2]


def per_page(run: Callable[[], object], pages: int, rounds: int) -> float:
    """Best microseconds per call of ``run`` over ``rounds`` rounds of ``pages`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(pages):
            run()
        best = min(best, (time.perf_counter() - start) / pages)
    return best * 1e6


def rows_for(
    label: str, settings: SessionSettings, site: Path, args: argparse.Namespace
) -> list[tuple[str, float]]:
    renderer = PageRenderer(str(site), settings)
    cookie = session_cookie(renderer, site)
    rows = []
    for page in ("read.py", "write.py"):
        job = PageJob("script", str(site / page))

        def run(job: PageJob = job) -> object:
            return renderer.run(job, request(cookie))

        rows.append((f"{page[:-3]} one value, {label}", per_page(run, args.pages, args.rounds)))
    return rows


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen([*command, "--dir", str(folder)], stdout=subprocess.DEVNULL)
    wait_for(port, process)
    return process, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", help="a Redis to use instead of starting redis-server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        for name, text in PAGES.items():
            (site / name).write_text(text)
        signed = SessionSettings(secrets=(SECRET,))
        anchor = PageRenderer(str(site), signed)
        plain = PageJob("script", str(site / "plain.py"))
        cookie = session_cookie(anchor, site)
        base = per_page(lambda: anchor.run(plain, request(cookie)), args.pages, args.rounds)
        rows = [("no session use (anchor)", base)]
        rows += rows_for("signed cookie", signed, site, args)
        redis_process = None if args.redis else start_redis(site)
        url = args.redis or (redis_process[1] if redis_process else None)
        try:
            if url is not None:
                rows += rows_for("Redis", SessionSettings(store_url=url), site, args)
        finally:
            if redis_process is not None:
                stop_process(redis_process[0])
        sessions, with_cookie = anchor.sessions, request(cookie)
        idle = per_page(lambda: sessions.slot(with_cookie).commit(""), args.pages * 5, args.rounds)
    print(f"{'page':<36} {'µs/page':>9} {'ratio':>7}")
    for label, micros in rows:
        print(f"{label:<36} {micros:>9.1f} {micros / base:>7.2f}")
    print(f"{'untouched slot + commit (every page)':<36} {idle:>9.2f} {idle / base:>7.3f}")


if __name__ == "__main__":
    main()
