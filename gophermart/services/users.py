"""Registering shoppers and checking their passwords."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from gophermart.database import insert_or_ignore
from gophermart.errors import Conflict, Unauthorized
from gophermart.extensions import db
from gophermart.models import User

log = logging.getLogger(__name__)

# argon2id cost profiles: "standard" follows OWASP's minimum (19 MiB, 2 passes); "low" is
# for test suites and local benchmarks only.
HASH_COSTS: dict[str, dict[str, Any]] = {
    "standard": dict(time_cost=2, memory_cost=19 * 1024, parallelism=1),
    "low": dict(time_cost=1, memory_cost=1024, parallelism=1),
}


@cache
def _hasher(cost: str) -> PasswordHasher:
    return PasswordHasher(**HASH_COSTS[cost])


@cache
def _dummy_hash(cost: str) -> str:
    return _hasher(cost).hash("timing equaliser for unknown logins")


def password_hasher() -> PasswordHasher:
    return _hasher(current_app.config["PASSWORD_HASH_COST"])


def register_user(login: str, password: str) -> User:
    """Create the user; exactly one of many concurrent registrations of a login wins."""
    password_hash = password_hasher().hash(password)
    user_id = insert_or_ignore(User, login=login, password_hash=password_hash)
    if user_id is None:
        db.session.rollback()
        raise Conflict("This login is already taken.")
    db.session.commit()
    log.info("user registered", extra={"user_id": user_id})
    return db.session.get_one(User, user_id)


def authenticate(login: str, password: str) -> User:
    """The user with these credentials; one answer for unknown login and wrong password."""
    user = db.session.execute(db.select(User).filter_by(login=login)).scalar_one_or_none()
    cost = current_app.config["PASSWORD_HASH_COST"]
    try:
        # Unknown logins are checked against a dummy hash so both answers take as long.
        _hasher(cost).verify(user.password_hash if user else _dummy_hash(cost), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("Wrong login or password.")
    return user


def revoke_sessions(user_id: int) -> None:
    """Invalidate every cookie and token issued to the user so far."""
    db.session.execute(sa.update(User).where(User.id == user_id).values(auth_version=User.auth_version + 1))
    db.session.commit()
    log.info("sessions revoked", extra={"user_id": user_id})


def change_password(user_id: int, old_password: str, new_password: str) -> User:
    user = db.session.get_one(User, user_id)
    authenticate(user.login, old_password)
    new_hash = password_hasher().hash(new_password)
    db.session.execute(
        sa.update(User).where(User.id == user_id).values(password_hash=new_hash, auth_version=User.auth_version + 1)
    )
    db.session.commit()
    log.info("password changed; earlier sessions revoked", extra={"user_id": user_id})
    db.session.expire(user)  # the row changed underneath it
    return db.session.get_one(User, user_id)
