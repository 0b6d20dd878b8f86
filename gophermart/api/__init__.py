"""The user API blueprint: thin views that parse, call a service and present the result."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/user")

from gophermart.api import accounts, balance, orders  # noqa: E402,F401  (routes register on import)
