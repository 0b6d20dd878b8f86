"""Security headers on every response: the API serves data, never pages to frame or sniff.

One exception, opted into by its views: the interactive API page (Swagger UI) and its assets
get a policy that lets that page run its own scripts and styles, still from this origin only.
"""

from flask import Flask, Response

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# JSON (and the odd redirect) needs nothing.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI: its scripts and stylesheet from here, the inline styles its bundle applies, the
# data: SVG icons of its stylesheet, and fetch for the document and "try it out" — to this
# origin only; no inline script (the page's initializer is a file), no eval, never framed.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")

# The headers each kind of response gets, in order, made once: on every response one
# look at the headers it already has replaces a setdefault (a scan of them) per header.
API_HEADERS = [
    *HEADERS.items(),
    ("Content-Security-Policy", API_CSP),
    ("Cache-Control", "no-store"),  # balances are private
]
# The page and its assets hold nothing private: revalidated (ETag), not refetched each time.
DOCS_HEADERS = [*HEADERS.items(), ("Content-Security-Policy", DOCS_CSP), ("Cache-Control", "no-cache")]
_NAMES = frozenset(name.lower() for name, _ in [*API_HEADERS, HSTS])


def with_docs_page_headers(response: Response) -> Response:
    """The API page's policy on a response of the page or one of its assets (its views only)."""
    for name, value in DOCS_HEADERS:
        response.headers.setdefault(name, value)
    return response


def register_security_headers(app: Flask) -> None:
    headers = [*API_HEADERS, HSTS] if app.config.get("SESSION_COOKIE_SECURE") else API_HEADERS

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        if _NAMES.isdisjoint(name.lower() for name, _ in response.headers):
            response.headers.extend(headers)
        else:  # a view set some of them itself: those stay as it set them
            for name, value in headers:
                response.headers.setdefault(name, value)
        return response
