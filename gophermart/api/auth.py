"""POST /api/user/register and /api/user/login."""

from flask import Response

from gophermart.api import api, present
from gophermart.api.request_body import credentials
from gophermart.auth import sign_in
from gophermart.services.users import authenticate, register_user


@api.post("/register")
def register() -> Response:
    login, password = credentials()
    return sign_in(register_user(login, password), present.empty(200))


@api.post("/login")
def login() -> Response:
    login, password = credentials()
    return sign_in(authenticate(login, password), present.empty(200))
