"""A body the service does not read must not poison a kept-alive connection: against the
real `gophermart web` (gunicorn), one HTTP connection, two requests."""

import http.client
from urllib.parse import urlsplit

import pytest

CAP = 64 * 1024  # MAX_BODY_BYTES' default, which the live server runs with


def connection(live_web: str) -> http.client.HTTPConnection:
    parts = urlsplit(live_web)
    assert parts.hostname is not None, live_web
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def exchange(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None):
    conn.request(method, path, body=body, headers={"Content-Type": "text/plain"} if body else {})
    response = conn.getresponse()
    response.read()
    return response


def test_a_get_with_a_100_kb_body_is_answered_and_the_next_request_works(live_web):
    conn = connection(live_web)
    try:
        first = exchange(conn, "GET", "/healthz", b"x" * 100 * 1024)
        assert first.status == 200
        assert first.getheader("Connection") == "close"  # more than the cap stays unread: said so
        second = exchange(conn, "GET", "/healthz")  # http.client reconnects, as told
        assert second.status == 200
    finally:
        conn.close()


@pytest.mark.parametrize("size", [1, 60 * 1024, CAP])
def test_an_unread_body_within_the_cap_is_drained_and_the_connection_kept(live_web, size):
    conn = connection(live_web)
    try:
        first = exchange(conn, "GET", "/healthz", b"x" * size)
        assert first.status == 200 and first.getheader("Connection") != "close"
        socket_before = conn.sock
        second = exchange(conn, "GET", "/healthz")
        assert second.status == 200
        assert conn.sock is socket_before  # the same connection served both
    finally:
        conn.close()


def test_a_large_body_refused_unread_closes_the_connection_cleanly(live_web):
    conn = connection(live_web)
    try:
        first = exchange(conn, "POST", "/api/user/orders", b"1" * (CAP + 40 * 1024))
        assert first.status == 401  # no credentials: refused before the body is looked at
        assert first.getheader("Connection") == "close"
        assert exchange(conn, "GET", "/healthz").status == 200
    finally:
        conn.close()


@pytest.mark.parametrize("size, kept", [(10 * 1024, True), (100 * 1024, False)])
def test_an_unread_chunked_body_is_drained_up_to_the_cap(live_web, size, kept):
    conn = connection(live_web)
    try:
        chunks = (b"x" * 1024 for _ in range(size // 1024))
        conn.request("GET", "/healthz", body=chunks, encode_chunked=True)
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        assert (first.getheader("Connection") != "close") is kept
        socket_before = conn.sock
        assert exchange(conn, "GET", "/healthz").status == 200
        assert (conn.sock is socket_before) is kept  # kept: the same connection served both
    finally:
        conn.close()
