"""The HTTP request as the Krait API shows it: ``krait.Request``.

krait builds one :class:`Request` per dynamic request and puts it in ``krait.request``. The body
can be given as bytes or as a (spooled) file that is only read when a script asks for it; form
parsing lives in :mod:`krait._forms` and its results are cached on the request.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import IO, Any, NamedTuple
from urllib.parse import quote

from krait._forms import (
    NotMultipartError,
    Part,
    boundary_from_content_type,
    iter_multipart,
)
from krait._query import parse_json_body, parse_query, parse_query_all
from krait._request_headers import decode_headers, lower_case_names

__all__ = ["Request"]

log = logging.getLogger("krait.request")


_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


class RawRequest(NamedTuple):
    """A request as received, not yet decoded: what the reactor hands to a page thread.

    Taking these references costs the reactor next to nothing; decoding them into a
    :class:`Request` (:meth:`decode`) is left to the thread that runs the page.

    Attributes:
        method: the method as received.
        path: the percent-decoded path (routing already decoded it).
        target: the request target as received, with the query.
        version: the protocol as received, e.g. ``b"HTTP/1.1"``.
        headers: the header names and their values as received.
        body_file: the body in a seekable file, or None.
        params: the route parameters (see :attr:`Request.params`).
        remote: the client's address and port, and the scheme it used (see
            :attr:`Request.remote_addr`).
    """

    method: bytes
    path: str
    target: bytes
    version: bytes
    headers: Sequence[tuple[bytes, Sequence[bytes]]]
    body_file: IO[bytes] | None
    params: Mapping[str, str] = _NO_PARAMS
    remote: tuple[str | None, int | None, str] = (None, None, "http")

    def decode(self) -> Request:
        """The :class:`Request` user code sees (its headers decoded when it first reads them)."""
        target = self.target
        query = target.split(b"?", 1)[1].decode("latin-1") if b"?" in target else ""
        body_file = self.body_file
        if body_file is not None:
            body_file.seek(0)
        return Request._received(
            self.method.decode("ascii", "replace"),
            self.path,
            query,
            self.version.decode("ascii", "replace"),
            self.headers,
            dict(self.params) if self.params else {},
            self.remote,
            body_file,
        )


def _as_bytes(body: bytes | bytearray | str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


class Request:
    """Represents an HTTP request.

    Objects of this class are created by krait before passing control to your Python code;
    ``krait.request`` is the one being handled.

    Args:
        http_method: the HTTP method, e.g. ``"GET"``, ``"POST"``, ``"HEAD"``.
        url: the percent-decoded path of the URL, without the query.
        query_string: the URL query, without ``?``.
        http_version: the HTTP version the client sent, e.g. ``"HTTP/1.1"``.
        headers: the request headers; names are lower-cased here, repeated headers are
            expected joined with ``", "``.
        body: the request body; ``str`` is encoded as UTF-8.

    Attributes:
        http_method (str): the HTTP method.
        url (str): the percent-decoded path, without the query.
        query_string (str): the URL query, without ``?``.
        query (dict[str, str]): the query parsed into a dict: each field split at its first
            ``=``, URL-decoded, the last repeated key winning.
        http_version (str): the HTTP version the client sent.
        params (dict[str, str]): the route parameters (a krait addition): the named groups of
            the route's ``regex``, or the ``{name}`` parts of its ``url``; empty otherwise.
        remote_addr (str | None): the client's IP address (a krait addition): the peer's, or,
            behind ``--trusted-proxies``, the client they name; None outside a server.
        remote_port (int | None): the client's port, when known.
        scheme (str): ``"http"`` or ``"https"``, as the client used it.
    """

    class MultipartFormData(NamedTuple):
        """A named tuple holding one multipart form entry."""

        data: bytes
        name: str
        filename: str | None
        content_type: str = "text/plain"

    def __init__(
        self,
        http_method: str,
        url: str,
        query_string: str,
        http_version: str,
        headers: Mapping[str, str],
        body: bytes | bytearray | str | None,
    ) -> None:
        self.http_method = http_method
        self.url = url
        self.query_string = query_string
        self.query: dict[str, str] = parse_query(query_string)
        self.http_version = http_version
        self._headers: dict[str, str] | None = lower_case_names(headers)
        self._raw_headers: Sequence[tuple[bytes, Sequence[bytes]]] = ()
        self._body: bytes | None = _as_bytes(body)
        self._body_file: IO[bytes] | None = None
        self._post_form: dict[str, str] | None = None
        self.params: dict[str, str] = {}
        self.remote_addr: str | None = None
        self.remote_port: int | None = None
        self.scheme = "http"
        self._uploads: list[Part] | None = None
        self._multipart_form: list[Request.MultipartFormData] | None = None

    @classmethod
    def _received(
        cls,
        http_method: str,
        url: str,
        query_string: str,
        http_version: str,
        raw_headers: Sequence[tuple[bytes, Sequence[bytes]]],
        params: dict[str, str],
        remote: tuple[str | None, int | None, str],
        body_file: IO[bytes] | None,
    ) -> Request:
        """A request as received, built for a page thread without the constructor's work.

        Sets every attribute ``__init__`` sets (``test_request`` pins that): the headers stay
        raw until :attr:`headers` is first read, an empty query is not parsed, and the body
        stays in ``body_file`` (or is empty without one).
        """
        request = cls.__new__(cls)
        request.http_method = http_method
        request.url = url
        request.query_string = query_string
        request.query = parse_query(query_string) if query_string else {}
        request.http_version = http_version
        request._headers = None
        request._raw_headers = raw_headers
        request._body = b"" if body_file is None else None
        request._body_file = body_file
        request._post_form = None
        request.params = params
        request.remote_addr, request.remote_port, request.scheme = remote
        request._uploads = None
        request._multipart_form = None
        return request

    @property
    def headers(self) -> dict[str, str]:
        """The headers (``dict[str, str]``), by lower-cased name, a repeated header's values
        joined with ``", "``. Decoded on first use for a received request; assignable."""
        headers = self._headers
        if headers is None:
            headers = self._headers = decode_headers(self._raw_headers)
            self._raw_headers = ()
        return headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = value
        self._raw_headers = ()

    @classmethod
    def from_stream(
        cls,
        http_method: str,
        url: str,
        query_string: str,
        http_version: str,
        headers: Mapping[str, str],
        body_file: IO[bytes],
    ) -> Request:
        """A request whose body stays in a seekable file until a script reads it.

        ``body`` then reads the whole file (from position 0) on first use, while
        :meth:`get_uploads` parses the file without loading it, so a script that saves a big
        upload never holds it in memory.

        Args:
            http_method: as for the constructor.
            url: as for the constructor.
            query_string: as for the constructor.
            http_version: as for the constructor.
            headers: as for the constructor.
            body_file: the body, in a seekable binary file the request does not close.

        Returns:
            The request.
        """
        request = cls(http_method, url, query_string, http_version, headers, b"")
        request._body = None
        request._body_file = body_file
        return request

    @property
    def body(self) -> bytes:
        """The raw request body (read from the body file on first use, then kept).

        This is the one place a body read from its file stays in memory: the form methods and
        ``str()`` read it again each time rather than pin it for the rest of the request.
        """
        if self._body is None:
            assert self._body_file is not None
            self._body_file.seek(0)
            self._body = self._body_file.read()
        return self._body

    @body.setter
    def body(self, value: bytes | bytearray | str | None) -> None:
        self._body = _as_bytes(value)
        self._body_file = None
        self._post_form = None
        self._uploads = None
        self._multipart_form = None

    def get_post_form(self) -> dict[str, str]:
        """Extract the HTTP form from a POST request. This is done on demand.

        The body is parsed as ``application/x-www-form-urlencoded`` (decoded as UTF-8, invalid
        bytes replaced), whatever the Content-Type says, with the same rules as :attr:`query`.

        Returns:
            The HTTP form data.
        """
        if self._post_form is None:
            self._post_form = parse_query(self._read_body().decode("utf-8", errors="replace"))
        return dict(self._post_form)

    def get_query_all(self) -> dict[str, list[str]]:
        """Every value of each query field, in order (a krait addition).

        :attr:`query` keeps only the last value of a repeated key, as the Krait API says;
        ``?tag=a&tag=b`` gives ``{"tag": ["a", "b"]}`` here.

        Returns:
            Each key with the list of its values.
        """
        return parse_query_all(self.query_string)

    def get_post_form_all(self) -> dict[str, list[str]]:
        """Every value of each field of a urlencoded POST body (a krait addition): a group of
        checkboxes named alike gives the list of the checked ones.

        Returns:
            Each key with the list of its values.
        """
        return parse_query_all(self._read_body().decode("utf-8", errors="replace"))

    def get_json(self) -> Any:
        """The request body decoded as JSON (a krait addition).

        Returns:
            The JSON value: a dict, list, str, number, bool or None.

        Raises:
            krait._query.JsonBodyError: the Content-Type is not JSON (``application/json`` or
                ``*/*+json``), or the body is empty, not UTF-8 or not valid JSON; krait
                answers 400 with the reason.
        """
        return parse_json_body(self.headers.get("content-type"), self._read_body())

    def get_multipart_form(self) -> list[Request.MultipartFormData] | None:
        """Extract an HTTP multipart form from the request body.

        Every part's content is loaded into memory; for big uploads use :meth:`get_uploads`.

        Returns:
            The HTTP form parts, in body order; None (logging why) when the request is not a
            multipart form: no Content-Type, another type, or no boundary, as in the original.

        Raises:
            krait._forms.MultipartError: the body of a multipart form is malformed; krait
                answers 400 with the reason.
        """
        if self._multipart_form is None:
            try:
                boundary_from_content_type(self.headers.get("content-type"))
            except NotMultipartError as error:
                log.warning("get_multipart_form() returns None: %s", error)
                return None
            self._multipart_form = [
                self.MultipartFormData(
                    _read_all(part.file), part.name, part.filename, part.content_type
                )
                for part in self.get_uploads()
            ]
        return list(self._multipart_form)

    def get_uploads(self) -> list[Part]:
        """The parts of a multipart form, contents in files rather than bytes (a krait addition).

        Each :class:`krait._forms.Part` has ``name``, ``filename`` (None for plain fields),
        ``content_type``, ``headers``, ``size`` and ``file``: a read-only binary file rewound
        to its start. The parts of one request keep at most 1 MiB of contents in memory, all
        together; every part that does not fit in what is left is on disk. Parsing streams
        the body, so a script can store a 50 MiB upload, or a hundred 1 MiB ones, without
        loading them::

            for part in krait.request.get_uploads():
                if part.filename:
                    with open(target_path, "wb") as out:
                        shutil.copyfileobj(part.file, out)

        ``filename`` is what the client sent: never use it as a path unchecked.

        Returns:
            The parts, in body order.

        Raises:
            krait._forms.MultipartError: the Content-Type is not ``multipart/form-data`` with a
                boundary, or the body is malformed; krait answers 400 with the reason.
        """
        if self._uploads is None:
            boundary = boundary_from_content_type(self.headers.get("content-type"))
            stream = self._body_stream()
            self._uploads = list(iter_multipart(stream, boundary))
        return list(self._uploads)

    def _read_body(self) -> bytes:
        """The body, without keeping it when it comes from the body file."""
        if self._body is not None:
            return self._body
        return _read_all(self._body_stream())

    def _body_stream(self) -> IO[bytes]:
        if self._body is None and self._body_file is not None:
            self._body_file.seek(0)
            return self._body_file
        return io.BytesIO(self.body)

    def __str__(self) -> str:
        query = "&".join(f"{key}={value}" for key, value in self.query.items())
        target = quote(self.url) + (f"?{query}" if query else "")
        head = f"{self.http_method} {target} {self.http_version}\r\n"
        fields = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        return f"{head}{fields}\r\n{self._read_body().decode('utf-8', errors='replace')}"

    def __repr__(self) -> str:
        return f"<Request {self.http_method} {self.url!r}>"


def _read_all(file: IO[bytes]) -> bytes:
    file.seek(0)
    data = file.read()
    file.seek(0)
    return data
