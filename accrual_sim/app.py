"""Flask application: thin views over :class:`~accrual_sim.engine.Engine`.

Public API (the accrual system's contract): ``POST /api/goods``,
``POST /api/orders``, ``GET /api/orders/<number>``.
Operator API, separate from it: ``GET /admin/stats``, ``POST /admin/reset``,
``GET``/``POST /admin/config``.
"""

from __future__ import annotations

import gzip
import logging
import time
import zlib
from collections.abc import Callable
from typing import Any

import simplejson
from flask import Flask, Response, request

from .engine import ENDPOINT_GOODS, ENDPOINT_ORDERS, Engine
from .payloads import PayloadError, mechanic_from, order_from, parse_json
from .settings import SettingError, SimConfig, bool_value

log = logging.getLogger(__name__)

EXTENSION = "accrual_sim"
MAX_BODY_BYTES = 16 * 1024 * 1024


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        simplejson.dumps(payload, use_decimal=True, ensure_ascii=False),
        status=status,
        mimetype="application/json",
    )


def text_response(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def empty_response(status: int) -> Response:
    response = Response(status=status)
    response.headers.pop("Content-Type", None)
    return response


def _request_document() -> Any:
    raw = request.get_data(cache=False)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise PayloadError("body is not valid gzip") from exc
    elif encoding not in ("", "identity"):
        raise PayloadError(f"unsupported Content-Encoding {encoding!r}")
    return parse_json(raw)


def create_app(
    config: SimConfig | None = None,
    *,
    engine: Engine | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Flask:
    """The simulator app; pass ``engine`` to share or inspect its state."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    engine = engine or Engine(config)
    app.extensions[EXTENSION] = engine

    # ------------------------------------------------------------------ public API

    @app.post("/api/goods")
    def register_mechanic():
        try:
            mechanic = mechanic_from(_request_document())
        except PayloadError as exc:
            engine.record(ENDPOINT_GOODS, 400)
            return text_response(str(exc), 400)
        code = engine.add_mechanic(mechanic)
        if code == 409:
            return text_response(f"mechanic {mechanic.match!r} is already registered", 409)
        log.debug("mechanic registered: %s %s %s", mechanic.match, mechanic.reward, mechanic.reward_type)
        return empty_response(code)

    @app.post("/api/orders")
    def register_order():
        try:
            number, goods = order_from(_request_document())
        except PayloadError as exc:
            engine.record(ENDPOINT_ORDERS, 400)
            return text_response(str(exc), 400)
        code = engine.add_order(number, goods)
        if code == 409:
            return text_response(f"order {number} is already registered", 409)
        log.debug("order registered: %s (%d goods)", number, len(goods))
        return empty_response(code)

    @app.get("/api/orders/<number>")
    def order_status(number: str):
        with engine.in_flight():
            result = engine.poll(number)
            if result.delay_seconds > 0:
                sleep(result.delay_seconds)
        if result.code == 200:
            return json_response(result.body)
        if result.code == 204:
            return empty_response(204)
        if result.code == 429:
            response = text_response(result.limit_message or "Too Many Requests", 429)
            response.headers["Retry-After"] = str(result.retry_after)
            return response
        return text_response("Internal Server Error (simulated fault)", result.code)

    # ------------------------------------------------------------------ operator API

    @app.get("/admin/stats")
    def admin_stats():
        return json_response(engine.stats())

    @app.post("/admin/reset")
    def admin_reset():
        wipe_state = request.args.get("state", "0")
        try:
            state = bool_value(wipe_state)
            if request.content_length:
                document = _request_document()
                if not isinstance(document, dict):
                    raise PayloadError("body must be a JSON object")
                if "state" in document:
                    state = bool_value(document["state"])
        except (PayloadError, ValueError) as exc:
            return text_response(f"bad reset request: {exc}", 400)
        engine.reset(state=state)
        return json_response({"reset": "all" if state else "counters"})

    @app.get("/admin/config")
    def admin_config():
        return json_response(engine.config.to_json())

    @app.post("/admin/config")
    def admin_configure():
        try:
            document = _request_document()
            if not isinstance(document, dict):
                raise PayloadError("body must be a JSON object")
            new = engine.configure(document)
        except (PayloadError, SettingError) as exc:
            return text_response(f"bad config: {exc}", 400)
        log.info("config changed: %s", new.to_json())
        return json_response(new.to_json())

    return app
