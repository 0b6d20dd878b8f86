"""The ceiling: a trivial Flask endpoint under exactly the service's gunicorn settings.

python bench/trivial_server.py -a 127.0.0.1:9000
"""

import sys

from flask import Flask, jsonify

from config import load_settings
from gophermart.logging import configure_logging
from gophermart.runtime.web_server import WebServer


def trivial_app() -> Flask:
    app = Flask("trivial")

    @app.get("/")
    def index():
        return jsonify({"current": 500.5, "withdrawn": 42})

    return app


if __name__ == "__main__":
    settings = load_settings(sys.argv[1:])
    configure_logging(settings.log_level, settings.log_format)
    WebServer(settings, app_factory=trivial_app).run()
