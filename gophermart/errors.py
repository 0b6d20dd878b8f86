"""Domain errors and the one RFC 9457 problem+json shape every error response takes."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from gophermart.extensions import db

log = logging.getLogger(__name__)


class ProblemError(Exception):
    """A request the service refuses, with the status code that is the contract."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(ProblemError):
    status, title = 400, "Bad Request"


class Unauthorized(ProblemError):
    status, title = 401, "Unauthorized"


class InsufficientFunds(ProblemError):
    status, title = 402, "Payment Required"


class Conflict(ProblemError):
    status, title = 409, "Conflict"


class Unprocessable(ProblemError):
    status, title = 422, "Unprocessable Content"


PROBLEM_MIMETYPE = "application/problem+json"


def problem_body(status: int, title: str, detail: str) -> bytes:
    """The RFC 9457 body every error answer carries, also below Flask (the gzip middleware)."""
    return json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    response = Response(problem_body(status, title, detail), status=status, mimetype=PROBLEM_MIMETYPE)
    response.headers.update(headers or {})
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ProblemError)
    def handle_problem(error: ProblemError) -> Response:
        db.session.rollback()
        return problem(error.status, error.title, error.detail, error.headers)

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException) -> Response:
        db.session.rollback()
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        return problem(error.code or 500, error.name, error.description or error.name, headers)

    @app.errorhandler(OperationalError)
    def handle_database_down(error: OperationalError) -> Response:
        # The database is unreachable or restarting: say so quickly instead of a bare 500.
        db.session.rollback()
        log.error("database unavailable", extra={"error": type(error.orig).__name__})
        return problem(
            503, "Service Unavailable", "The database is unavailable; try again shortly.", {"Retry-After": "5"}
        )

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        db.session.rollback()
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "The service failed to handle the request.")
