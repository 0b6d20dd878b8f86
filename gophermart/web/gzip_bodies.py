"""WSGI middleware: inflate `Content-Encoding: gzip` request bodies, with a size cap.

Every gzip member is inflated, not only the first. The cap applies to the inflated size
of them all and decompression stops as soon as it is passed, so a gzip bomb costs a few
milliseconds and gets a 413.
"""

from __future__ import annotations

import io
import zlib

from gophermart.errors import PROBLEM_MIMETYPE, problem_body


class GzipRequestMiddleware:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding in ("", "identity"):
            return self.app(environ, start_response)
        if encoding != "gzip":
            return _problem(start_response, 415, "Unsupported Media Type", "Only gzip request bodies are accepted.")
        compressed = self._read(environ)
        if compressed is None:
            return _problem(start_response, 413, "Content Too Large", "The request body is too large.")
        try:
            body = self._inflate(compressed)
        except zlib.error:
            return _problem(start_response, 400, "Bad Request", "The body is not valid gzip data.")
        except OverflowError:
            return _problem(start_response, 413, "Content Too Large", "The decompressed request body is too large.")
        environ = dict(environ, CONTENT_LENGTH=str(len(body)))
        environ["wsgi.input"] = io.BytesIO(body)
        del environ["HTTP_CONTENT_ENCODING"]
        return self.app(environ, start_response)

    def _read(self, environ) -> bytes | None:
        """The body as sent, or None when it is over the cap."""
        stream = environ["wsgi.input"]
        if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            # No Content-Length (a chunked body): the server ends the stream; read at most
            # one byte past the cap.
            data = stream.read(self.max_bytes + 1)
            return data if len(data) <= self.max_bytes else None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length < 0 or length > self.max_bytes:
            return None
        return stream.read(length) if length else b""

    def _inflate(self, data: bytes) -> bytes:
        """Every member of the stream (RFC 1952 allows several, one after another, as
        `cat a.gz b.gz` makes), the cap applying to all of them together."""
        body = bytearray()
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            # Never 0 (zlib's "no limit"): the loop ends before the body is over the cap.
            body += inflater.decompress(data, self.max_bytes + 1 - len(body))
            if len(body) > self.max_bytes:
                raise OverflowError
            if not inflater.eof:
                raise zlib.error("truncated gzip stream")
            data = inflater.unused_data
            if not data:
                return bytes(body)


def _problem(start_response, status: int, title: str, detail: str):
    body = problem_body(status, title, detail)
    start_response(f"{status} {title}", [("Content-Type", PROBLEM_MIMETYPE), ("Content-Length", str(len(body)))])
    return [body]
