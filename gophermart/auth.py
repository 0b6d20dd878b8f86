"""Authentication: a signed session cookie or a signed, expiring bearer token.

Both carry the user's id and auth version, so bumping the version revokes them all.
When a request carries an Authorization header, the header alone decides.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request, session
from flask_login import login_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gophermart.errors import problem
from gophermart.extensions import db, login_manager
from gophermart.models import User

TOKEN_SALT = "gophermart.bearer-token"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=TOKEN_SALT)


def issue_token(user: User) -> str:
    return _serializer().dumps(user.get_id())


def sign_in(user: User, response: Response) -> Response:
    """Set the session cookie and hand back a bearer token."""
    session.permanent = True
    login_user(user)
    response.headers["Authorization"] = f"Bearer {issue_token(user)}"
    return response


def _load_by_auth_id(auth_id: object) -> User | None:
    if not isinstance(auth_id, str):
        return None
    user_id, _, version = auth_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.auth_version != int(version):
        return None
    # Detached, with every column loaded: a commit later in the request cannot expire it,
    # so reading it afterwards (the request log reads its id) costs no second query.
    db.session.expunge(user)
    return user


def register_auth(app: Flask) -> None:
    login_manager.init_app(app)

    @login_manager.user_loader
    def load_from_session(auth_id: str) -> User | None:
        if "Authorization" in request.headers:
            return None  # the header decides; see load_from_header
        return _load_by_auth_id(auth_id)

    @login_manager.request_loader
    def load_from_header(req) -> User | None:
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            auth_id = _serializer().loads(token.strip(), max_age=current_app.config["TOKEN_TTL_SECONDS"])
        except BadSignature:  # also covers SignatureExpired
            return None
        return _load_by_auth_id(auth_id)

    @login_manager.unauthorized_handler
    def unauthorized() -> Response:
        return problem(401, "Unauthorized", "Log in, then send the session cookie or the bearer token.")
