"""One structured log line per request: method, path, status, duration, request id, user id.

The request id comes from the client's X-Request-ID (if sane) or is made here, and is
sent back in the response so a client's report can be matched to the log line. Every line
logged while the request runs carries it (gophermart.logging), and so does every check the
request queues (gophermart.accrual.queueing).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from gophermart.logging import request_id as current_request_id

log = logging.getLogger("gophermart.requests")
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
QUIET_PATHS = ("/healthz", "/readyz", "/metrics")  # probes and scrapes every few seconds


def register_request_logging(app: Flask) -> None:
    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        current_request_id.set(g.request_id)

    @app.teardown_request
    def forget_request_id(_exc: BaseException | None) -> None:
        # The thread serves other requests next: none may carry this one's id.
        current_request_id.set(None)

    @app.after_request
    def log_request(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        if request.path in QUIET_PATHS:
            return response
        user = g.get("_login_user")  # only if this request already loaded it: no extra query
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 2),
                "request_id": request_id,
                "user_id": getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None,
            },
        )
        return response
