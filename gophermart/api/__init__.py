"""The user API: thin views that parse, call a service and present the result."""

from gophermart.api import accounts, balance, orders  # noqa: F401  (their routes register on import)
from gophermart.api.blueprint import api

__all__ = ["api"]
