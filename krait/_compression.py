"""Decides HTTP compression: which coding a client accepts, what is worth compressing, ETags.

Pure functions over plain values (RFC 9110 §12.5.3 Accept-Encoding, §8.4 Content-Encoding,
§8.8.3 ETag). The static-file and page shells ask these and write the answer. Only gzip is
offered: it is in the standard library, and every client that sends Accept-Encoding takes it.
"""

from __future__ import annotations

import gzip

MIN_COMPRESS_SIZE = 1024
"""Bodies shorter than this are sent as they are: gzip's framing would eat the saving."""

MAX_ON_THE_FLY = 64 * 1024
"""Largest body compressed on the reactor (about half a millisecond at level 6): more would
stall every other connection; larger static files want a precompressed sibling."""

GZIP = "gzip"

_CODING_SUFFIX = {GZIP: "gz"}

_COMPRESSIBLE_APPLICATION = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/ld+json",
        "application/manifest+json",
        "application/x-javascript",
        "image/svg+xml",
        "font/ttf",
        "font/otf",
    }
)
"""Types outside ``text/*`` worth compressing (image, audio and video types are compressed
already, SVG aside)."""


def parse_accept_encoding(value: str | None) -> dict[str, float]:
    """The codings of an ``Accept-Encoding`` value with their q-values, lower-cased.

    A malformed q-value counts as 0 (not acceptable), as a cautious reading of §12.4.2.
    """
    weights: dict[str, float] = {}
    if not value:
        return weights
    for item in value.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weights[coding] = _q_value(params)
    return weights


def _q_value(params: str) -> float:
    for param in params.split(";"):
        name, _, number = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(number.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def choose_encoding(accept_encoding: str | None, offered: tuple[str, ...] = (GZIP,)) -> str | None:
    """The coding to send from ``offered``, or None for the identity body.

    RFC 9110 §12.5.3: a coding named with q=0 is refused, ``*`` stands for the codings not
    named, and no header at all means no preference (identity is then the safe choice).
    ``identity;q=0`` with nothing acceptable still gets identity: a 406 helps nobody.
    """
    weights = parse_accept_encoding(accept_encoding)
    best: str | None = None
    best_q = 0.0
    for coding in offered:
        q = weights.get(coding, weights.get("*", 0.0))
        if coding == GZIP and "x-gzip" in weights and coding not in weights:
            q = weights["x-gzip"]
        if q > best_q:
            best, best_q = coding, q
    return best


def is_compressible(content_type: str, size: int | None = None) -> bool:
    """Whether a body of this type (and size, when known) is worth compressing."""
    if size is not None and size < MIN_COMPRESS_SIZE:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type.startswith("text/"):
        return True
    return media_type in _COMPRESSIBLE_APPLICATION or media_type.endswith(("+json", "+xml"))


def encoded_etag(etag: str, coding: str) -> str:
    """The ETag of the ``coding`` form of the entity tagged ``etag``: ``"abc"`` → ``"abc-gz"``.

    RFC 9110 §8.8.3: the compressed and identity bodies differ, so a strong tag must differ.
    """
    suffix = _CODING_SUFFIX.get(coding, coding)
    if etag.endswith('"'):
        return f'{etag[:-1]}-{suffix}"'
    return etag


def add_vary(current: str | None, field: str = "Accept-Encoding") -> str:
    """A ``Vary`` value naming ``field`` as well as what ``current`` named."""
    if not current:
        return field
    names = {name.strip().lower() for name in current.split(",")}
    if "*" in names or field.lower() in names:
        return current
    return f"{current}, {field}"


def gzip_bytes(body: bytes) -> bytes:
    """``body`` gzipped at level 6 (nginx's default trade of CPU for size), without a date.

    ``mtime=0`` makes the bytes depend on the body only, so an ETag derived from the
    source stays true of every copy.
    """
    return gzip.compress(body, compresslevel=6, mtime=0)
