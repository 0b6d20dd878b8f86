"""The floor of GET /api/user/balance on this stack: a bare Flask app that checks a signed
bearer token and reads the user's balance with one primary-key `SELECT` through psycopg2,
nothing else (no extensions, no ORM, no request log, no metrics). Served by exactly the
service's gunicorn settings and loaded beside the service in the same run, it shows how much
of a request is the stack itself and how much the service's own work.

    python bench/floor_server.py -a 127.0.0.1:9001 -d postgresql://…/gophermart_bench_api
    curl -s 127.0.0.1:9001/token/rich      # a bearer header for that user of the benchmark
    wrk -t2 -c32 -d5s -H "Authorization: <header>" http://127.0.0.1:9001/api/user/balance
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg2.pool
from flask import Flask, abort, jsonify, request
from itsdangerous import BadSignature, URLSafeSerializer

from config import load_settings
from gophermart.runtime.web_server import WebServer

_BALANCE = "SELECT auth_version, current, withdrawn FROM users WHERE id = %s"


def floor_app(database_uri: str, threads: int) -> Flask:
    app = Flask("floor")
    signer = URLSafeSerializer("floor", salt="auth")
    dsn = database_uri.replace("postgresql+psycopg2://", "postgresql://", 1)
    pools: list[psycopg2.pool.ThreadedConnectionPool] = []
    lock = threading.Lock()

    def pool() -> psycopg2.pool.ThreadedConnectionPool:
        # Made in the worker on first use: a connection must not cross gunicorn's fork. As
        # many kept as there are threads: psycopg2's pool closes a returned connection
        # beyond its minimum, and reconnecting would be most of the floor's cost.
        with lock:
            if not pools:
                pools.append(psycopg2.pool.ThreadedConnectionPool(threads, threads, dsn))
            return pools[0]

    def one_row(sql: str, *params):
        connections = pool()
        conn = connections.getconn()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchone()
        finally:
            connections.putconn(conn)

    @app.get("/")
    def bare():
        return jsonify({"current": 500.5, "withdrawn": 42})

    @app.get("/token/<login>")
    def token(login: str):
        row = one_row("SELECT id, auth_version FROM users WHERE login = %s", login)
        if row is None:
            abort(404)
        return "Bearer " + signer.dumps(list(row))

    @app.get("/api/user/balance")
    def balance():
        try:
            user_id, version = signer.loads(request.headers.get("Authorization", "").removeprefix("Bearer "))
        except BadSignature:
            abort(401)
        row = one_row(_BALANCE, user_id)
        if row is None or row[0] != version:
            abort(401)
        return jsonify({"current": float(row[1]), "withdrawn": float(row[2])})

    return app


if __name__ == "__main__":
    settings = load_settings(sys.argv[1:])
    threads = settings.web_threads if settings.web_worker_class == "gthread" else 1
    WebServer(settings, app_factory=lambda: floor_app(settings.resolved_database_uri, threads)).run()
