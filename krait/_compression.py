"""Decides HTTP compression: which coding a client accepts, what is worth compressing, ETags.

Pure functions over plain values (RFC 9110 §12.5.3 Accept-Encoding, §8.4 Content-Encoding,
§8.8.3 ETag). The static-file and page shells ask these and write the answer. Two codings
are offered: Brotli (``br``, from the ``brotli`` package), 4 % (prose) to 24 % (CSS) smaller
than gzip at the same CPU cost, and gzip, which every client that sends Accept-Encoding takes.
When a client weighs both equally (the browsers' ``gzip, deflate, br``), Brotli is sent.
"""

from __future__ import annotations

import gzip

import brotli

MIN_COMPRESS_SIZE = 1024
"""Bodies shorter than this are sent as they are: gzip's framing would eat the saving."""

MAX_ON_THE_FLY = 64 * 1024
"""Largest static file compressed on the reactor (a few milliseconds at gzip level 6 or Brotli
quality 5, once per version of the file): more would stall every other connection; larger
static files want a precompressed sibling."""

MAX_PAGE_COMPRESS = 4 * 1024 * 1024
"""Largest page body compressed (in the worker thread that rendered it, never the reactor)."""

BROTLI = "br"
GZIP = "gzip"

OFFERED = (BROTLI, GZIP)
"""The codings krait sends, in order of preference when a client weighs them equally."""

BROTLI_QUALITY = 5
"""Brotli's quality for bytes compressed by krait: as fast as gzip level 6 and smaller.
Quality 11 is 10-35 % smaller again but 30 times slower: precompress for that."""

SIBLING_SUFFIX = {BROTLI: ".br", GZIP: ".gz"}
"""The name a precompressed sibling of ``style.css`` has for each coding: ``style.css.br``."""

_CODING_SUFFIX = {GZIP: "gz", BROTLI: "br"}

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


def choose_encoding(accept_encoding: str | None, offered: tuple[str, ...] = OFFERED) -> str | None:
    """The coding to send from ``offered``, or None for the identity body.

    RFC 9110 §12.5.3: a coding named with q=0 is refused, ``*`` stands for the codings not
    named, and no header at all means no preference (identity is then the safe choice).
    ``identity;q=0`` with nothing acceptable still gets identity: a 406 helps nobody. The
    highest q-value wins; between equal ones, the earlier in ``offered`` (Brotli first).
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
    """The ETag of the ``coding`` form of the entity tagged ``etag``: ``"abc"`` → ``"abc-gz"``
    (``"abc-br"`` for Brotli).

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


def brotli_bytes(body: bytes) -> bytes:
    """``body`` compressed with Brotli at :data:`BROTLI_QUALITY`, in text mode."""
    compressed: bytes = brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY)
    return compressed


def compress(body: bytes, coding: str) -> bytes:
    """``body`` in ``coding`` (:data:`BROTLI` or :data:`GZIP`)."""
    if coding == BROTLI:
        return brotli_bytes(body)
    return gzip_bytes(body)
