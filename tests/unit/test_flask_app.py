"""The app's Flask class: its cheaper check for coroutine functions answers as Flask's own."""

from __future__ import annotations

import functools

import pytest
from flask import Flask

from gophermart.web.flask_app import App


class Hooks:
    def method(self) -> str:
        return "method"

    def __call__(self) -> str:
        return "callable"


def plain() -> str:
    return "plain"


async def coroutine() -> str:
    return "coroutine"


@pytest.fixture(scope="module")
def apps() -> tuple[Flask, App]:
    return Flask(__name__), App(__name__)


@pytest.mark.parametrize("func", [plain, Hooks().method, Hooks(), functools.partial(plain), lambda: "lambda"])
def test_a_plain_callable_is_called_as_it_is(apps, func):
    flask, app = apps
    assert app.ensure_sync(func) is flask.ensure_sync(func)
    assert app.ensure_sync(func)() == func()


def test_a_coroutine_function_goes_to_flasks_own(apps):
    flask, app = apps
    try:
        expected = flask.ensure_sync(coroutine)
    except RuntimeError as missing:  # Flask's async support needs an extra package
        with pytest.raises(RuntimeError, match=str(missing)[:30]):
            app.ensure_sync(coroutine)
    else:
        assert app.ensure_sync(coroutine)() == expected() == "coroutine"
