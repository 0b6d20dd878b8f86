"""The user API's blueprint, which every view module registers its routes on."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/user")
