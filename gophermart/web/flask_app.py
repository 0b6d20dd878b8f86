"""The Flask class the factory makes: Flask, with one check made cheaper."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from flask import Flask


class App(Flask):
    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask asks this of every hook and view on every request; for a plain function the
        flag on its code object answers what `inspect.iscoroutinefunction` works out (its
        cost: bench/FINDINGS.md). Anything else, async included, goes to Flask's own."""
        code = getattr(func, "__code__", None)
        if code is not None and not code.co_flags & inspect.CO_COROUTINE:
            return func
        return super().ensure_sync(func)
