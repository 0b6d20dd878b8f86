"""The Celery app bound to a Flask app: `celery -A celery_worker worker|beat|flower`."""

from config import load_settings
from gophermart import create_app
from gophermart.logging import configure_logging

_settings = load_settings(argv=[])  # celery's own arguments are not the service's flags
configure_logging(_settings.log_level, _settings.log_format)  # first: start-up lines take the format too
flask_app = create_app(_settings)
celery = flask_app.extensions["celery"]
