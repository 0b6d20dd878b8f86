"""Authentication: a signed session cookie or a signed, expiring bearer token.

Both carry the user's id and auth version, so bumping the version revokes them all.
When a request carries an Authorization header, the header alone decides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import sqlalchemy as sa
from flask import Flask, Response, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, login_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gophermart.database import first_alone
from gophermart.errors import problem
from gophermart.models import USERS, User

TOKEN_SALT = "gophermart.bearer-token"


class HeaderFirstLoginManager(LoginManager):
    """Flask-Login's manager, where a request that carries an Authorization header is loaded
    from the header alone, through the request loader: the session, the remember cookie and
    session protection are not consulted for it (their price: bench/FINDINGS.md). Built of
    Flask-Login 0.6's own loading steps; the tests of who a request is pin the behaviour."""

    def _load_user(self) -> None:
        if "Authorization" in request.headers:
            self._update_request_context_with_user(self._load_user_from_request(request))
        else:
            super()._load_user()


login_manager = HeaderFirstLoginManager()


def _serializer() -> URLSafeTimedSerializer:
    return _token_serializer(current_app.secret_key)


@lru_cache(maxsize=8)
def _token_serializer(secret_key: str | bytes) -> URLSafeTimedSerializer:
    # Made once per key, not per request: it holds no state of its own.
    return URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)


@lru_cache(maxsize=4096)
def _verified_token(serializer: URLSafeTimedSerializer, token: str) -> tuple[object, int]:
    """The auth id a bearer token carries and when it was signed (seconds since the epoch),
    or BadSignature. A client sends the same token on every request: its signature is
    checked once per process, not on every request (an HMAC, base64 and JSON: its cost,
    bench/FINDINGS.md); its age is checked by the caller on every use. Failures are not
    cached, and a new secret key brings a new serializer, so no old entry matches."""
    auth_id, signed_at = serializer.loads(token, return_timestamp=True)
    return auth_id, int(signed_at.timestamp())


def _token_auth_id(token: str, max_age: int) -> object | None:
    """The auth id of a validly signed token no older than `max_age` seconds, else None."""
    try:
        auth_id, signed_at = _verified_token(_serializer(), token)
    except BadSignature:
        return None
    # As itsdangerous counts a token's age: whole seconds, and none signed in the future.
    age = int(time.time()) - signed_at
    return auth_id if 0 <= age <= max_age else None


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, with the signing serializer made once for the app's
    keys instead of on every request, cookie or not (its cost: bench/FINDINGS.md)."""

    _cached: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is None or cached[0] != keys:
            cached = self._cached = (keys, super().get_signing_serializer(app))
        return cached[1]


def issue_token(user: User) -> str:
    return _serializer().dumps(user.get_id())


def sign_in(user: User, response: Response) -> Response:
    """Set the session cookie and hand back a bearer token."""
    session.permanent = True
    login_user(user)
    response.headers["Authorization"] = f"Bearer {issue_token(user)}"
    return response


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    """The user a request is authenticated as (`current_user`), as their row was when the
    request read it: the id, the auth version the credentials were checked against, and
    the balance. Read afresh on every request, so a revocation takes effect at once and
    the balance is exact; changes go through the services, by id."""

    id: int
    auth_version: int
    current: Decimal
    withdrawn: Decimal

    # Flask-Login protocol, as on User.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.auth_version}"


# A Core query of the columns a request uses, rather than an ORM User: the ORM's loading,
# identity map and detaching cost as much CPU as the rest of a GET balance.
_AUTHENTICATED_USER = sa.select(USERS.id, USERS.auth_version, USERS.current, USERS.withdrawn).where(
    USERS.id == sa.bindparam("user_id")
)

# Requests whose statements are reads alone: the user's read need not make the ORM session,
# on which a request that writes reads it instead (one pool check-out, not two).
_READS_ONLY = frozenset({"GET", "HEAD"})


def _load_by_auth_id(auth_id: object) -> AuthenticatedUser | None:
    if not isinstance(auth_id, str):
        return None
    user_id, _, version = auth_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    row = first_alone(_AUTHENTICATED_USER, {"user_id": int(user_id)}, on_session=request.method not in _READS_ONLY)
    if row is None:
        return None
    user = AuthenticatedUser(*row)
    return user if user.auth_version == int(version) else None


def register_auth(app: Flask) -> None:
    app.session_interface = SessionInterface()
    login_manager.init_app(app)

    @login_manager.user_loader
    def load_from_session(auth_id: str) -> AuthenticatedUser | None:
        return _load_by_auth_id(auth_id)  # never with an Authorization header: HeaderFirstLoginManager

    @login_manager.request_loader
    def load_from_header(req) -> AuthenticatedUser | None:
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        auth_id = _token_auth_id(token.strip(), current_app.config["TOKEN_TTL_SECONDS"])
        return None if auth_id is None else _load_by_auth_id(auth_id)

    @login_manager.unauthorized_handler
    def unauthorized() -> Response:
        return problem(401, "Unauthorized", "Log in, then send the session cookie or the bearer token.")
