"""WSGI entry point for gunicorn: `gunicorn wsgi:app` (options from gunicorn.conf.py)."""

from config import load_settings
from gophermart import create_app
from gophermart.logging import configure_logging

_settings = load_settings(argv=[])  # a server's (or flask's) own arguments are not the service's flags
configure_logging(_settings.log_level, _settings.log_format)  # first: create_app's lines take the format too
app = create_app(_settings)
