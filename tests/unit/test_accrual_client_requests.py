"""What the accrual client sends: each check's request is prepared once and reused, so these
pin down that it still carries what a request made afresh would (the path, the session's
headers, credentials from .netrc, cookies the server set)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gophermart.accrual.client import AccrualClient, Final


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as the accrual system's connections are
    seen: list[tuple[str, dict[str, str]]] = []
    set_cookie: str | None = None

    def do_GET(self) -> None:
        self.seen.append((self.path, dict(self.headers)))
        number = self.path.rsplit("/", 1)[-1]
        body = b'{"order": "%s", "status": "PROCESSED", "accrual": 5}' % number.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.set_cookie:
            self.send_header("Set-Cookie", self.set_cookie)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"seen": [], "set_cookie": None})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_each_call_asks_about_its_own_number_with_the_sessions_headers(server):
    url, handler = server
    client = AccrualClient(url)
    assert client.fetch("12345678903") == Final("PROCESSED", Decimal(5))
    assert client.fetch("79927398713") == Final("PROCESSED", Decimal(5))
    assert [path for path, _ in handler.seen] == ["/api/orders/12345678903", "/api/orders/79927398713"]
    for _, headers in handler.seen:
        assert headers["User-Agent"].startswith("python-requests/")


def test_a_number_is_one_path_segment_whatever_it_holds(server):
    url, handler = server
    AccrualClient(url).fetch("12/3?x")  # not a number the API takes, but a row written by hand
    assert handler.seen[0][0] == "/api/orders/12%2F3%3Fx"


def test_credentials_from_netrc_go_with_every_call(server, tmp_path, monkeypatch):
    url, handler = server
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login shop password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = AccrualClient(url)
    client.fetch("12345678903")
    client.fetch("79927398713")
    expected = "Basic " + base64.b64encode(b"shop:s3cret").decode()
    assert [headers.get("Authorization") for _, headers in handler.seen] == [expected, expected]


def test_a_cookie_the_server_sets_is_sent_back(server):
    url, handler = server
    handler.set_cookie = "route=b; Path=/"
    client = AccrualClient(url)
    client.fetch("12345678903")
    client.fetch("79927398713")
    assert "Cookie" not in handler.seen[0][1]
    assert handler.seen[1][1].get("Cookie") == "route=b"
