"""The Celery app bound to a Flask app: `celery -A celery_worker worker|beat|flower`."""

from gophermart import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
