"""Register, log in, log out, change the password."""

from flask import Response
from flask_login import current_user, login_required, logout_user

from gophermart.api import present
from gophermart.api.blueprint import api
from gophermart.api.request_body import credentials, password_change
from gophermart.services.users import authenticate, change_password, register_user, revoke_sessions
from gophermart.web.login import sign_in
from gophermart.web.throttling import limit_registrations, throttle_failed_logins


@api.post("/register")
@limit_registrations
def register() -> Response:
    login, password = credentials()
    return sign_in(register_user(login, password), present.empty(200))


@api.post("/login")
@throttle_failed_logins
def login() -> Response:
    login, password = credentials()
    return sign_in(authenticate(login, password), present.empty(200))


@api.post("/logout")
@login_required
def logout() -> Response:
    """Revokes every session cookie and bearer token of the user, on every device."""
    revoke_sessions(current_user.id)
    logout_user()
    return present.empty(200)


@api.post("/password")
@throttle_failed_logins
@login_required
def new_password() -> Response:
    """Changing the password revokes every earlier cookie and token; new ones come back."""
    old, new = password_change()
    user = change_password(current_user.id, old, new)
    return sign_in(user, present.empty(200))
