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


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", HTML_CSP if response.mimetype == "text/html" else API_CSP)
        if response.mimetype != "text/html":
            response.headers.setdefault("Cache-Control", "no-store")  # balances are private
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
