"""Request header fields as ``krait.Request.headers`` shows them: names lower-cased, the
values of a repeated field joined with ``", "``.

A received request's fields are decoded from Latin-1 (:func:`decode_headers`) only when its
page first reads them; a request built by hand has its names lower-cased
(:func:`lower_case_names`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["decode_headers", "lower_case_names"]


def lower_case_names(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers given by name as a dict of lower-case names, repeats joined with ``", "``."""
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]}, {value}" if key in lowered else value
    return lowered


_HEADER_NAMES: dict[bytes, str] = {}
"""Header names as received, decoded and lower-cased: a few dozen names cover most traffic."""


def decode_headers(raw: Iterable[tuple[bytes, Sequence[bytes]]]) -> dict[str, str]:
    """Raw header pairs as a dict of lower-case names, repeats joined with ``", "`` (Latin-1)."""
    headers: dict[str, str] = {}
    names = _HEADER_NAMES
    for name, values in raw:
        key = names.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(names) < 1024:
                names[name] = key
        if len(values) == 1:
            value = values[0].decode("latin-1")
        else:
            value = ", ".join(v.decode("latin-1") for v in values)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers
