"""SPEC 3.1: register and login, cookie and bearer authentication."""

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from gophermart.extensions import db
from gophermart.models import User
from gophermart.web.login import TOKEN_SALT

CREDENTIALS = {"login": "alice", "password": "secret"}


def test_register_authenticates_with_cookie_and_bearer(client, app):
    response = client.post("/api/user/register", json=CREDENTIALS)
    assert response.status_code == 200
    assert response.headers["Authorization"].startswith("Bearer ")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # The cookie alone authenticates.
    assert client.get("/api/user/balance").status_code == 200
    # The bearer token alone authenticates.
    fresh = app.test_client()
    assert fresh.get("/api/user/balance").status_code == 401
    assert (
        fresh.get("/api/user/balance", headers={"Authorization": response.headers["Authorization"]}).status_code == 200
    )


def test_password_is_stored_as_argon2id_hash(client, app):
    client.post("/api/user/register", json=CREDENTIALS)
    with app.app_context():
        stored = db.session.execute(db.select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "secret" not in stored


def test_register_taken_login_is_409_and_logins_compare_exactly(client):
    assert client.post("/api/user/register", json=CREDENTIALS).status_code == 200
    response = client.post("/api/user/register", json={"login": "alice", "password": "other"})
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 409 and response.json["detail"]
    assert client.post("/api/user/register", json={"login": "Alice", "password": "x"}).status_code == 200
    assert client.post("/api/user/register", json={"login": "alice ", "password": "x"}).status_code == 200


def test_login_success_sets_cookie_and_token(client, app):
    client.post("/api/user/register", json=CREDENTIALS)
    fresh = app.test_client()
    response = fresh.post("/api/user/login", json=CREDENTIALS)
    assert response.status_code == 200
    assert response.headers["Authorization"].startswith("Bearer ")
    assert fresh.get("/api/user/balance").status_code == 200


@pytest.mark.parametrize("body", [{"login": "alice", "password": "wrong"}, {"login": "nobody", "password": "secret"}])
def test_login_wrong_password_or_unknown_login_is_the_same_401(client, app, body):
    client.post("/api/user/register", json=CREDENTIALS)
    response = app.test_client().post("/api/user/login", json=body)
    assert response.status_code == 401
    assert response.json["detail"] == "Wrong login or password."
    assert "Authorization" not in response.headers and "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", ["/api/user/register", "/api/user/login"])
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"alice"',
        b"{}",
        b'{"login": "alice"}',
        b'{"password": "x"}',
        b'{"login": "", "password": "x"}',
        b'{"login": "alice", "password": ""}',
        b'{"login": 1, "password": "x"}',
        b'{"login": "alice", "password": null}',
        b'{"login": ["a"], "password": "x"}',
        b'{"login": "a\\u0000b", "password": "x"}',
        b'{"login": "alice", "password": "\\ud800"}',
        b'{"login": "\\ud800", "password": "x"}',
        b'\xff\xfe{"login"',
        ("{" * 100000).encode(),
    ],
)
def test_malformed_credentials_are_400_and_change_nothing(client, app, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code in (400, 413), response.data
    assert response.content_type == "application/problem+json"
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar() == 0


def test_overlong_login_is_400(client):
    assert client.post("/api/user/register", json={"login": "x" * 256, "password": "p"}).status_code == 400
    assert client.post("/api/user/register", json={"login": "x" * 255, "password": "p"}).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/user/orders", "/api/user/balance", "/api/user/withdrawals"],
)
def test_protected_get_endpoints_need_credentials(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


def test_protected_post_endpoints_need_credentials(client):
    assert client.post("/api/user/orders", data="12345678903").status_code == 401
    assert client.post("/api/user/balance/withdraw", json={"order": "2377225624", "sum": 1}).status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer garbage", "Basic YWxpY2U6c2VjcmV0", "bearer x.y.z", "Token abc"],
)
def test_bad_authorization_header_is_401(client, header):
    assert client.get("/api/user/balance", headers={"Authorization": header}).status_code == 401


def test_tampered_and_forged_tokens_are_rejected(client, app, register):
    token = register()
    scheme, value = token.split(" ")
    payload, stamp, signature = value.split(".")
    tampered = f"{scheme} {payload}.{stamp}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert client.get("/api/user/balance", headers={"Authorization": tampered}).status_code == 401
    forged = URLSafeTimedSerializer("not-the-key", salt=TOKEN_SALT).dumps("1:1")
    assert client.get("/api/user/balance", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    # Another user's id signed with the right key but an unknown user: 401.
    ghost = URLSafeTimedSerializer(app.secret_key, salt=TOKEN_SALT).dumps("999:1")
    assert client.get("/api/user/balance", headers={"Authorization": f"Bearer {ghost}"}).status_code == 401


def test_expired_token_is_401(app, register, monkeypatch):
    token = register()
    client = app.test_client()
    # Used once first: a token whose signature this process checked before expires all the same.
    assert client.get("/api/user/balance", headers={"Authorization": token}).status_code == 200
    monkeypatch.setitem(app.config, "TOKEN_TTL_SECONDS", 1)
    time.sleep(2.1)
    assert client.get("/api/user/balance", headers={"Authorization": token}).status_code == 401


def test_tampered_cookie_is_401(app, client):
    client.post("/api/user/register", json=CREDENTIALS)
    cookie = client.get_cookie("session")
    other = app.test_client()
    other.set_cookie("session", cookie.value[:-3] + "abc")
    assert other.get("/api/user/balance").status_code == 401


def test_header_decides_when_both_come(client, app):
    client.post("/api/user/register", json=CREDENTIALS)  # client holds alice's cookie
    bob = app.test_client().post("/api/user/register", json={"login": "bob", "password": "x"})
    client.post("/api/user/orders", data="12345678903")  # alice's order
    as_bob = client.get("/api/user/orders", headers={"Authorization": bob.headers["Authorization"]})
    assert as_bob.status_code == 204
    assert client.get("/api/user/orders", headers={"Authorization": "Bearer broken"}).status_code == 401
    assert client.get("/api/user/orders").status_code == 200


def test_bumping_auth_version_revokes_cookie_and_token(client, app):
    token = client.post("/api/user/register", json=CREDENTIALS).headers["Authorization"]
    with app.app_context():
        db.session.execute(db.update(User).values(auth_version=User.auth_version + 1))
        db.session.commit()
    assert client.get("/api/user/balance").status_code == 401
    assert app.test_client().get("/api/user/balance", headers={"Authorization": token}).status_code == 401


def test_sessions_and_tokens_survive_a_restart_with_the_kept_secret_key(app, register):
    from gophermart import create_app

    token = register()
    restarted = create_app(app.config["SETTINGS"])
    assert restarted.secret_key == app.secret_key
    assert restarted.test_client().get("/api/user/balance", headers={"Authorization": token}).status_code == 200
