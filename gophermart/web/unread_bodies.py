"""WSGI middleware: a request body the service did not read must not poison the connection.

Views that take no body (a `GET`), and refusals made before reading (413, 415, 401), leave
the body on the socket. Under keep-alive those bytes would be read as the next request,
and gunicorn, which discards at most 64 KB of them, closes the connection without a word
after a response that announced keep-alive, so the client's next call fails. When the
response starts, what is left of the body is read and dropped up to MAX_BODY_BYTES; a
longer rest makes the response say `Connection: close`, so the client knows to reconnect.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_CHUNK = 16 * 1024


class _CountingInput:
    """wsgi.input, counting what was read through it."""

    def __init__(self, stream):
        self.stream = stream
        self.consumed = 0
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read() if size is None or size < 0 else self.stream.read(size)
        self._count(data, size)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.stream.readline() if size is None or size < 0 else self.stream.readline(size)
        self._count(data, size)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = self.stream.readlines() if hint is None or hint < 0 else self.stream.readlines(hint)
        self.consumed += sum(map(len, lines))
        return lines

    def __iter__(self):
        return iter(self.readline, b"")

    def _count(self, data: bytes, size: int | None) -> None:
        self.consumed += len(data)
        if not data and size != 0:
            self.ended = True


class UnreadBodyMiddleware:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        length = _content_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not (length or (chunked and length is None)):
            return self.app(environ, start_response)
        body = _CountingInput(environ["wsgi.input"])
        environ["wsgi.input"] = body

        def starting(status, headers, exc_info=None):
            if not self._drained(body, length):
                headers = [*headers, ("Connection", "close")]
                _close_after(start_response)
                log.info(
                    "request body left unread; closing the connection",
                    extra={"path": environ.get("PATH_INFO"), "content_length": length},
                )
            return start_response(status, headers, exc_info)

        return self.app(environ, starting)

    def _drained(self, body: _CountingInput, length: int | None) -> bool:
        """Read what is left of the body, up to the cap: True when nothing is left."""
        if body.ended:
            return True
        if length is None:  # chunked: the server ends the stream where the body ends
            left, all_read = self.max_bytes + 1, False  # one byte past the cap: too long
        else:
            left, all_read = length - body.consumed, True
            if left > self.max_bytes:
                return False
        while left > 0:
            data = body.read(min(_CHUNK, left))
            if not data:
                return True  # the body ended (sooner than announced, if it was)
            left -= len(data)
        return all_read


def _content_length(environ) -> int | None:
    """The announced length; None when there is none (a chunked body) or it is unreadable."""
    try:
        length = int(environ["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return None
    return length if length >= 0 else None


def _close_after(start_response) -> None:
    """gunicorn drops a Connection header set by the application (it is hop-by-hop) and
    decides itself; its start_response is a method of the response, which can be told."""
    response = getattr(start_response, "__self__", None)
    force_close = getattr(response, "force_close", None)
    if callable(force_close):
        force_close()
