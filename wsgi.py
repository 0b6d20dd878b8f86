"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from gophermart import create_app
from gophermart.logging import configure_logging

app = create_app()
configure_logging(app.config["SETTINGS"].log_level, app.config["SETTINGS"].log_format)
