"""Gophermart loyalty service: the Flask application factory."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings, load_settings
from config.settings import PROJECT_ROOT
from gophermart.database import engine_options, prepare_sqlite_file
from gophermart.extensions import compress, db, migrate
from gophermart.web.flask_app import App
from gophermart.web.gzip_bodies import GzipRequestMiddleware
from gophermart.web.json_provider import DecimalJSONProvider
from gophermart.web.secret_key import load_or_create_secret_key
from gophermart.web.unread_bodies import UnreadBodyMiddleware

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def create_app(settings: Settings | None = None, **config_overrides) -> Flask:
    settings = settings or load_settings(argv=[])
    app = App(__name__, instance_path=settings.instance_dir)
    app.json = DecimalJSONProvider(app)
    configure(app, settings)
    app.config.update(config_overrides)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_shell_context(app)
    register_commands(app)
    # WSGI middleware wraps app.wsgi_app, as Flask documents (mypy sees a method assigned).
    app.wsgi_app = GzipRequestMiddleware(app.wsgi_app, settings.max_body_bytes)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # The client address (throttles, logs) from X-Forwarded-For, as far as the proxies go.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=0)  # type: ignore[method-assign]
    # Outermost: it sees what every layer inside left of the body.
    app.wsgi_app = UnreadBodyMiddleware(app.wsgi_app, settings.max_body_bytes)  # type: ignore[method-assign]
    return app


def configure(app: Flask, settings: Settings) -> None:
    uri = settings.resolved_database_uri
    prepare_sqlite_file(uri)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key or load_or_create_secret_key(settings.instance_dir),
        SQLALCHEMY_DATABASE_URI=uri,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, settings.db_pool_size),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        TOKEN_TTL_SECONDS=settings.token_ttl_seconds,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.token_ttl_seconds),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PASSWORD_HASH_COST=settings.password_hash_cost,
        # gzip only: it is what clients send in Accept-Encoding, and needs no extra package.
        COMPRESS_ALGORITHM=["gzip"],
        COMPRESS_MIMETYPES=[
            "application/json",
            "application/problem+json",
            "text/plain",
            "text/html",
            "text/css",
            "text/javascript",
        ],
        COMPRESS_MIN_SIZE=500,
    )


def register_extensions(app: Flask) -> None:
    from gophermart.accrual.celery_app import init_celery
    from gophermart.web.login import register_auth
    from gophermart.web.metrics import register_metrics
    from gophermart.web.request_log import register_request_logging
    from gophermart.web.security_headers import register_security_headers
    from gophermart.web.throttling import register_throttling

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    compress.init_app(app)
    register_auth(app)
    register_throttling(app)
    register_security_headers(app)
    init_celery(app)
    register_metrics(app)
    register_request_logging(app)


def register_blueprints(app: Flask) -> None:
    from gophermart.api import api, docs
    from gophermart.web.health import health

    app.register_blueprint(api)
    app.register_blueprint(docs.blueprint)
    app.register_blueprint(health)


def register_error_handlers(app: Flask) -> None:
    from gophermart.errors import register_error_handlers as register

    register(app)


def register_shell_context(app: Flask) -> None:
    from gophermart import models
    from gophermart.accrual import tasks

    @app.shell_context_processor
    def shell_context() -> dict:
        return {
            "db": db,
            "User": models.User,
            "Order": models.Order,
            "OrderStatus": models.OrderStatus,
            "Withdrawal": models.Withdrawal,
            "check_order": tasks.check_order,
            "sweep": tasks.sweep,
        }


def register_commands(app: Flask) -> None:
    from gophermart.commands import register_commands as register

    register(app)
