"""The site's own error pages: ``krait.config.error_pages`` checked at start-up, and who gets them.

A site may replace krait's built-in 404 and 500 pages with files of its own, a plain HTML file
or a template (a Pyml page can show the path that was asked for). Which errors can have one is
decided here: 404, for a URL no route or file answers, and 500, for the site's code raising.
Other statuses are answers to the client's protocol (405, 413, 503...), not pages of the site.

A wrong shape (``{"404": ...}``, a status other than these) stops the site at start-up; a page
that is no file of the site is a warning, and the built-in page is sent until it exists.
Which clients get the site's page is decided here too: only those that accept HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from krait._errors import SiteConfigError, SiteWarning, TargetNotFound
from krait._site_checks import last_assignment
from krait._targets import resolve_view

ERROR_PAGE_STATUSES = (404, 500)
"""The statuses a site can give a page of its own."""


def check_error_pages(
    value: Any, real_root: str, init_path: str
) -> tuple[dict[int, str], list[SiteWarning]]:
    """The site's error pages as real paths by status, and warnings about missing files.

    Args:
        value: ``krait.config.error_pages`` as ``init.py`` left it.
        real_root: the site root's real path.
        init_path: the path of ``init.py``, whose assignment the messages name.

    Raises:
        SiteConfigError: the value is not a dict of a status in
            :data:`ERROR_PAGE_STATUSES` to a path.
    """
    line = last_assignment(init_path, "error_pages")
    where: dict[str, Any] = {"filename": init_path, "line": line} if line else {}
    example = '{404: ".view/errors/404.html", 500: ".view/errors/500.html"}'
    if value is None:
        return {}, []
    if not isinstance(value, Mapping):
        raise SiteConfigError(
            f"krait.config.error_pages must be a dict of status to page, not {value!r}",
            hint=f"write krait.config.error_pages = {example}",
            **where,
        )
    pages: dict[int, str] = {}
    warnings: list[SiteWarning] = []
    for status, page in value.items():
        if isinstance(status, bool) or status not in ERROR_PAGE_STATUSES:
            raise SiteConfigError(
                f"krait.config.error_pages has a page for {status!r}; a site can have its own "
                "page for 404 (no route or file for the URL) and 500 (the site's code "
                "raised) only",
                hint=f"use the numbers as keys: krait.config.error_pages = {example}",
                **where,
            )
        if not isinstance(page, str) or not page:
            raise SiteConfigError(
                f"krait.config.error_pages[{status}] must be the path of a file of the site, "
                f"not {page!r}",
                hint=f"give a path relative to the site root: {example}",
                **where,
            )
        try:
            pages[status] = resolve_view(real_root, page)
        except TargetNotFound as error:
            warnings.append(
                SiteWarning(
                    f"krait.config.error_pages[{status}] names {page!r}, which is no file of "
                    f"the site, so krait's own {status} page is sent instead: {error.reason}",
                    hint="create the file, or give its path relative to the site root "
                    "(hidden folders such as .view/ are fine: the page is never served "
                    "at a URL of its own)",
                    **where,
                )
            )
    return pages, warnings


def accepts_html(accept: str) -> bool:
    """Whether a client with this ``Accept`` header takes an HTML page (RFC 9110 §12.5.1).

    No header means anything goes. A client that lists only other types (an API client
    asking for JSON) gets krait's short built-in body instead of the site's page.
    """
    if not accept.strip():
        return True
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() not in ("text/html", "text/*", "*/*"):
            continue
        if all(not _is_zero_quality(param) for param in params):
            return True
    return False


def _is_zero_quality(param: str) -> bool:
    name, _, value = param.partition("=")
    if name.strip().lower() != "q":
        return False
    try:
        return float(value) == 0
    except ValueError:
        return False
