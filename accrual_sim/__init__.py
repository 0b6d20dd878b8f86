"""Simulator of the Gophermart accrual system (see README.md in this package)."""

from .app import create_app

__all__ = ["create_app"]
