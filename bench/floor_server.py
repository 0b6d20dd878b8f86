"""The floors of the API's hot paths on this stack: what GET balance, GET orders and POST
orders cost with nothing of the service in them. Served by exactly the service's gunicorn
settings and loaded beside the service in the same run, they show how much of a request is
the stack itself and how much the service's own work. Two floors:

- `reference` (the default): a bare Flask app that checks a signed bearer token and runs
  the endpoint's statements through psycopg2 (one primary-key read; ten orders read; an
  insert and a message pushed to a Redis list), nothing else: no extensions, no ORM, no
  request log, no metrics.
- `stack`: the same endpoints on the extensions the stack is chosen
  for, each used as its documentation shows: Flask-Login's request loader, the reads and the
  insert through Flask-SQLAlchemy's session (committed; removed at the end of the request),
  and the check handed to a Celery app with the Redis broker. Still nothing of the service.

    python bench/floor_server.py stack -a 127.0.0.1:9001 -d postgresql://…/gophermart_bench_api
    curl -s 127.0.0.1:9001/token/rich      # a bearer header for that user of the benchmark
    wrk -t2 -c32 -d5s -H "Authorization: <header>" http://127.0.0.1:9001/api/user/balance
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg2.pool
import redis
import sqlalchemy as sa
from celery import Celery
from flask import Flask, abort, jsonify, request
from flask_login import LoginManager, current_user, login_required
from flask_sqlalchemy import SQLAlchemy
from itsdangerous import BadSignature, URLSafeSerializer

from config import load_settings
from config.settings import normalize_database_uri
from gophermart.logging import configure_logging
from gophermart.runtime.web_server import WebServer

KINDS = ("reference", "stack")
# The Redis list (reference) or Celery queue (stack) hand-ins are pushed to: nobody reads it
# but the pipeline's floor (bench/pipeline_floor.py).
QUEUE = "floor"

_BALANCE = "SELECT auth_version, current, withdrawn FROM users WHERE id = %s"
_ORDERS = (
    "SELECT number, status, accrual, uploaded_at FROM orders WHERE user_id = %s ORDER BY uploaded_at DESC, id DESC"
)
_INSERT = (
    "INSERT INTO orders (number, user_id, status, uploaded_at, updated_at, next_check_at)"
    " VALUES (%s, %s, 'NEW', now(), now(), now() + interval '30 seconds') ON CONFLICT DO NOTHING RETURNING id"
)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer("floor", salt="auth")


def _order(row) -> dict:
    number, status, accrual, uploaded_at = row
    item = {"number": number, "status": status, "uploaded_at": uploaded_at.isoformat()}
    if accrual is not None:
        item["accrual"] = float(accrual)
    return item


def reference_app(database_uri: str, redis_url: str, threads: int) -> Flask:
    app = Flask("floor")
    signer = _signer()
    dsn = database_uri.replace("postgresql+psycopg2://", "postgresql://", 1)
    pools: list[psycopg2.pool.ThreadedConnectionPool] = []
    lock = threading.Lock()
    broker = redis.Redis.from_url(redis_url)

    def pool() -> psycopg2.pool.ThreadedConnectionPool:
        # Made in the worker on first use: a connection must not cross gunicorn's fork. As
        # many kept as there are threads: psycopg2's pool closes a returned connection
        # beyond its minimum, and reconnecting would be most of the floor's cost.
        with lock:
            if not pools:
                pools.append(psycopg2.pool.ThreadedConnectionPool(threads, threads, dsn))
            return pools[0]

    def run(sql: str, *params, rows: bool = False):
        connections = pool()
        conn = connections.getconn()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if rows else cur.fetchone()
        finally:
            connections.putconn(conn)

    def authenticated() -> tuple[int, tuple]:
        """The user's id and row (auth version, current, withdrawn), or 401."""
        try:
            user, version = signer.loads(request.headers.get("Authorization", "").removeprefix("Bearer "))
        except BadSignature:
            abort(401)
        row = run(_BALANCE, user)
        if row is None or row[0] != version:
            abort(401)
        return user, row

    @app.get("/token/<login>")
    def token(login: str):
        row = run("SELECT id, auth_version FROM users WHERE login = %s", login)
        if row is None:
            abort(404)
        return "Bearer " + signer.dumps(list(row))

    @app.get("/api/user/balance")
    def balance():
        _, row = authenticated()
        return jsonify({"current": float(row[1]), "withdrawn": float(row[2])})

    @app.get("/api/user/orders")
    def orders():
        user, _ = authenticated()
        return jsonify([_order(row) for row in run(_ORDERS, user, rows=True)])

    @app.post("/api/user/orders")
    def hand_in():
        (user, _), number = authenticated(), request.get_data(as_text=True).strip()
        if not number.isdigit():
            abort(422)
        row = run(_INSERT, number, user)
        if row is not None:
            broker.lpush(QUEUE, json.dumps({"order_id": row[0]}))
        return "", 202

    return app


class _User:
    is_authenticated = is_active = True
    is_anonymous = False

    def __init__(self, row):
        self.id, self.auth_version, self.current, self.withdrawn = row

    def get_id(self) -> str:
        return str(self.id)


def stack_app(database_uri: str, redis_url: str, pool_size: int) -> Flask:
    app = Flask("stack-floor")
    app.config.update(
        SECRET_KEY="floor",
        SQLALCHEMY_DATABASE_URI=normalize_database_uri(database_uri),  # psycopg2, as the service
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": pool_size, "max_overflow": pool_size},
    )
    db = SQLAlchemy(app)
    login_manager = LoginManager(app)
    celery = Celery("floor", broker=redis_url, set_as_current=False)
    # The pipeline's floor (bench/pipeline_floor.py) asks when the calculation is done.
    first_check = float(os.environ.get("FLOOR_FIRST_CHECK_SECONDS", "0")) or None
    signer = _signer()
    users = sa.table("users", sa.column("id"), sa.column("auth_version"), sa.column("current"), sa.column("withdrawn"))
    c = sa.table(
        "orders", *(sa.column(name) for name in ("id", "number", "user_id", "status", "accrual", "uploaded_at"))
    ).c
    insert = sa.text(_INSERT.replace("%s", ":number", 1).replace("%s", ":user_id", 1))

    @login_manager.request_loader
    def load(req):
        try:
            user, version = signer.loads(req.headers.get("Authorization", "").removeprefix("Bearer "))
        except BadSignature:
            return None
        row = db.session.execute(sa.select(users).where(users.c.id == user)).first()
        return _User(row) if row is not None and row.auth_version == version else None

    @app.get("/token/<login>")
    def token(login: str):
        row = db.session.execute(
            sa.text("SELECT id, auth_version FROM users WHERE login = :login"), {"login": login}
        ).first()
        if row is None:
            abort(404)
        return "Bearer " + signer.dumps(list(row))

    @app.get("/api/user/balance")
    @login_required
    def balance():
        return jsonify({"current": float(current_user.current), "withdrawn": float(current_user.withdrawn)})

    @app.get("/api/user/orders")
    @login_required
    def orders():
        rows = db.session.execute(
            sa.select(c.number, c.status, c.accrual, c.uploaded_at)
            .where(c.user_id == current_user.id)
            .order_by(c.uploaded_at.desc(), c.id.desc())
        )
        return jsonify([_order(row) for row in rows])

    @app.post("/api/user/orders")
    @login_required
    def hand_in():
        number = request.get_data(as_text=True).strip()
        if not number.isdigit():
            abort(422)
        order_id = db.session.execute(insert, {"number": number, "user_id": current_user.id}).scalar()
        db.session.commit()
        if order_id is not None:
            celery.send_task("floor.check", args=[order_id], queue=QUEUE, countdown=first_check)
        return "", 202

    return app


def app_for(kind: str, database_uri: str, redis_url: str, threads: int, pool_size: int) -> Flask:
    if kind == "stack":
        return stack_app(database_uri, redis_url, pool_size)
    return reference_app(database_uri, redis_url, threads)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    kind = arguments.pop(0) if arguments and arguments[0] in KINDS else "reference"
    settings = load_settings(arguments)
    configure_logging(settings.log_level, settings.log_format)
    if not settings.redis_url:
        sys.exit("REDIS_URL must be set: the hand-ins are pushed to Redis")
    redis_url = settings.redis_url
    threads = settings.web_threads if settings.web_worker_class == "gthread" else 1
    redis.Redis.from_url(redis_url).delete(QUEUE)
    WebServer(
        settings,
        app_factory=lambda: app_for(kind, settings.resolved_database_uri, redis_url, threads, settings.db_pool_size),
    ).run()
