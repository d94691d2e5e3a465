"""Content-Type from file extensions: krait's own table of modern media types.

The original Krait read Apache's ``mime.types`` and never declared a charset; krait keeps the
lookup rules (the extension of the base filename, the inner extension for ``*.X.pyml``,
``application/octet-stream`` when unknown) but uses a current table and declares
``charset=utf-8`` on textual types, because krait encodes all text it renders as UTF-8.
"""

from __future__ import annotations

import posixpath

__all__ = ["DEFAULT_TYPE", "content_type_for", "content_type_for_ext", "is_text_type"]

DEFAULT_TYPE = "application/octet-stream"
"""The type of anything whose extension is not in the table."""

_TEMPLATE_EXT = "pyml"

_TYPES: dict[str, str] = {
    # Web pages, styles, scripts (RFC 9239 for JavaScript).
    "html": "text/html",
    "htm": "text/html",
    "xhtml": "application/xhtml+xml",
    "css": "text/css",
    "js": "text/javascript",
    "mjs": "text/javascript",
    "cjs": "text/javascript",
    "json": "application/json",
    "map": "application/json",
    "jsonld": "application/ld+json",
    "webmanifest": "application/manifest+json",
    "wasm": "application/wasm",
    # Plain and structured text.
    "txt": "text/plain",
    "text": "text/plain",
    "log": "text/plain",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "xml": "application/xml",
    "xsl": "application/xml",
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "ics": "text/calendar",
    "vcf": "text/vcard",
    "yaml": "application/yaml",
    "yml": "application/yaml",
    "toml": "application/toml",
    "rtf": "application/rtf",
    "sh": "application/x-sh",
    "py": "text/x-python",
    # Images.
    "svg": "image/svg+xml",
    "png": "image/png",
    "apng": "image/apng",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "ico": "image/vnd.microsoft.icon",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "heic": "image/heic",
    # Fonts.
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "eot": "application/vnd.ms-fontobject",
    # Audio and video.
    "mp3": "audio/mpeg",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "mkv": "video/x-matroska",
    "vtt": "text/vtt",
    # Documents.
    "pdf": "application/pdf",
    "epub": "application/epub+zip",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    # Archives and packages.
    "zip": "application/zip",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "tar": "application/x-tar",
    "bz2": "application/x-bzip2",
    "xz": "application/x-xz",
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar",
    "apk": "application/vnd.android.package-archive",
    "jar": "application/java-archive",
}

# Types outside text/* whose bodies are text; `+json` and `+xml` suffixes are text as well.
_TEXTUAL_APPLICATION_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/yaml",
        "application/toml",
    }
)


def is_text_type(content_type: str) -> bool:
    """Tell whether a media type carries text, so that a charset applies to it.

    Args:
        content_type: a media type, with or without parameters (``"text/html; charset=x"``).

    Returns:
        True for ``text/*``, ``+json`` and ``+xml`` types, and the textual ``application/``
        types (JSON, XML, JavaScript, YAML, TOML).
    """
    essence = content_type.split(";", 1)[0].strip().lower()
    return (
        essence.startswith("text/")
        or essence.endswith(("+json", "+xml"))
        or essence in _TEXTUAL_APPLICATION_TYPES
    )


def content_type_for_ext(ext: str) -> str:
    """Give the Content-Type for a file extension.

    Args:
        ext: an extension without the dot, in any case, e.g. ``"json"`` or ``"PNG"``.

    Returns:
        The media type, with ``; charset=utf-8`` for textual types, or
        ``application/octet-stream`` when the extension is unknown.
    """
    media_type = _TYPES.get(ext.lower())
    if media_type is None:
        return DEFAULT_TYPE
    if is_text_type(media_type):
        return f"{media_type}; charset=utf-8"
    return media_type


def content_type_for(path: str) -> str:
    """Give the Content-Type for a file path, from its extension.

    A template named ``name.X.pyml`` is typed by its inner extension ``X``; a bare
    ``name.pyml`` has no type of its own and gets ``application/octet-stream``, as in the
    original Krait. Names that only start with a dot (``.env``) have no extension.

    Args:
        path: a file path or URL path, with ``/`` separators.

    Returns:
        The Content-Type, as :func:`content_type_for_ext` gives it.
    """
    stem, ext = posixpath.splitext(posixpath.basename(path))
    if ext.lower() == f".{_TEMPLATE_EXT}":
        ext = posixpath.splitext(stem)[1]
    if not ext:
        return DEFAULT_TYPE
    return content_type_for_ext(ext[1:])
