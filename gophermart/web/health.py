"""Liveness and readiness for load balancers and orchestrators.

GET /healthz: the process answers. GET /readyz: the database and the broker answer too
(503 otherwise), checked on every call so readiness comes back without a restart.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from gophermart.errors import problem
from gophermart.extensions import db

log = logging.getLogger(__name__)

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@health.get("/readyz")
def readyz() -> Response:
    from gophermart.accrual.queueing import broker_reachable

    failures = []
    try:
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # any failure means "not ready", whatever the driver says
        db.session.rollback()
        failures.append(f"database: {type(exc).__name__}")
    if not broker_reachable():
        failures.append("broker: unreachable")
    if failures:
        log.warning("not ready", extra={"failures": failures})
        return problem(503, "Service Unavailable", "; ".join(failures), {"Retry-After": "5"})
    return jsonify({"status": "ready"})
