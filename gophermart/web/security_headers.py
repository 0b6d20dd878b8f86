"""Security headers on every response: the API serves data, never pages to frame or sniff."""

from flask import Flask, Response

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# JSON needs nothing; the HTML docs page needs its own inline style only.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
HSTS = ("Strict-Transport-Security", "max-age=31536000")

# The headers each kind of response gets, in order, made once: on every response one
# look at the headers it already has replaces a setdefault (a scan of them) per header.
API_HEADERS = [
    *HEADERS.items(),
    ("Content-Security-Policy", API_CSP),
    ("Cache-Control", "no-store"),  # balances are private
]
HTML_HEADERS = [*HEADERS.items(), ("Content-Security-Policy", HTML_CSP)]
_NAMES = frozenset(name.lower() for name, _ in [*API_HEADERS, HSTS])


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = HTML_HEADERS if response.mimetype == "text/html" else API_HEADERS
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers = [*headers, HSTS]
        if _NAMES.isdisjoint(name.lower() for name, _ in response.headers):
            response.headers.extend(headers)
        else:  # a view set some of them itself: those stay as it set them
            for name, value in headers:
                response.headers.setdefault(name, value)
        return response
