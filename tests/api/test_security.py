"""Throttling, revocation, security headers, and no secrets in the logs."""

import dataclasses
import logging
import time

import pytest
from argon2 import PasswordHasher

from gophermart import create_app


def app_with(app, **overrides):
    return create_app(dataclasses.replace(app.config["SETTINGS"], **overrides))


def login(client, name, password):
    return client.post("/api/user/login", json={"login": name, "password": password})


def test_failed_logins_are_throttled_per_login_and_only_briefly(app):
    throttled = app_with(app, login_failures_per_login="3 per 2 seconds", login_failures_per_address="100 per minute")
    client = throttled.test_client()
    client.post("/api/user/register", json={"login": "victim", "password": "right"})
    client.post("/api/user/register", json={"login": "bystander", "password": "right"})
    assert [login(client, "victim", "wrong").status_code for _ in range(3)] == [401] * 3
    blocked = login(client, "victim", "wrong")
    assert blocked.status_code == 429
    assert blocked.content_type == "application/problem+json"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 2
    assert login(client, "bystander", "right").status_code == 200  # other logins are not affected
    time.sleep(2.2)
    assert login(client, "victim", "right").status_code == 200  # the lock does not last


def test_failed_logins_are_throttled_per_address(app):
    throttled = app_with(app, login_failures_per_address="4 per minute")
    client = throttled.test_client()
    codes = [login(client, f"nobody{i}", "x").status_code for i in range(6)]
    assert codes == [401] * 4 + [429] * 2


def test_successful_logins_cost_nothing(app):
    throttled = app_with(app, login_failures_per_login="2 per minute", login_failures_per_address="2 per minute")
    client = throttled.test_client()
    client.post("/api/user/register", json={"login": "regular", "password": "pw"})
    assert [login(client, "regular", "pw").status_code for _ in range(10)] == [200] * 10


def test_registrations_are_limited_per_address(app):
    throttled = app_with(app, registrations_per_address="3 per minute")
    client = throttled.test_client()
    codes = [client.post("/api/user/register", json={"login": f"u{i}", "password": "p"}).status_code for i in range(5)]
    assert codes == [200] * 3 + [429] * 2


def test_unknown_login_costs_a_full_password_check(client, monkeypatch):
    checks: list[str] = []
    original = PasswordHasher.verify

    def counted(self, h, p):
        checks.append(h)
        return original(self, h, p)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    assert login(client, "ghost", "whatever").status_code == 401
    assert len(checks) == 1 and checks[0].startswith("$argon2id$")


def test_logout_revokes_every_cookie_and_token(app, client):
    first = client.post("/api/user/register", json={"login": "leaver", "password": "pw"}).headers["Authorization"]
    second_device = app.test_client()
    second = login(second_device, "leaver", "pw").headers["Authorization"]
    assert client.post("/api/user/logout").status_code == 200
    fresh = app.test_client()
    assert fresh.get("/api/user/balance", headers={"Authorization": first}).status_code == 401
    assert fresh.get("/api/user/balance", headers={"Authorization": second}).status_code == 401
    assert second_device.get("/api/user/balance").status_code == 401  # its cookie too
    assert client.get("/api/user/balance").status_code == 401
    assert login(fresh, "leaver", "pw").status_code == 200  # logging in again works


def test_logout_needs_credentials(client):
    assert client.post("/api/user/logout").status_code == 401


def test_password_change_revokes_old_tokens(app, client):
    old_token = client.post("/api/user/register", json={"login": "mover", "password": "old"}).headers["Authorization"]
    fresh = app.test_client()
    wrong = fresh.post(
        "/api/user/password", json={"password": "nope", "new_password": "new"}, headers={"Authorization": old_token}
    )
    assert wrong.status_code == 401
    changed = fresh.post(
        "/api/user/password", json={"password": "old", "new_password": "new"}, headers={"Authorization": old_token}
    )
    assert changed.status_code == 200
    new_token = changed.headers["Authorization"]
    assert app.test_client().get("/api/user/balance", headers={"Authorization": old_token}).status_code == 401
    assert app.test_client().get("/api/user/balance", headers={"Authorization": new_token}).status_code == 200
    assert login(app.test_client(), "mover", "old").status_code == 401
    assert login(app.test_client(), "mover", "new").status_code == 200


@pytest.mark.parametrize("body", [b"{}", b'{"password": "old"}', b'{"password": 1, "new_password": "x"}', b"nope"])
def test_malformed_password_change_is_400(auth_client, body):
    assert auth_client.post("/api/user/password", data=body, content_type="application/json").status_code == 400


def test_security_headers_on_every_response(client):
    for response in (
        client.get("/api/user/balance"),
        client.post("/api/user/register", json={"login": "h", "password": "p"}),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["Cache-Control"] == "no-store"


def test_secure_cookie_when_configured(app):
    response = (
        app_with(app, session_cookie_secure=True)
        .test_client()
        .post("/api/user/register", json={"login": "secure", "password": "p"})
    )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"]


def test_no_password_or_token_in_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "correct horse battery staple"
    token = client.post("/api/user/register", json={"login": "quiet", "password": secret}).headers["Authorization"]
    login(client, "quiet", secret)
    login(client, "quiet", secret + "!")
    client.get("/api/user/balance", headers={"Authorization": token})
    logged = caplog.text + "".join(str(vars(r)) for r in caplog.records)
    assert secret not in logged
    assert token.split()[1] not in logged


def login_from(client, address, name, password):
    return client.post(
        "/api/user/login", json={"login": name, "password": password}, headers={"X-Forwarded-For": address}
    )


def test_the_owner_gets_in_from_another_address_while_a_guesser_is_throttled(app):
    throttled = app_with(
        app,
        trusted_proxies=1,
        login_failures_per_login_and_address="3 per minute",
        login_failures_per_address="100 per minute",
    )
    client = throttled.test_client()
    client.post("/api/user/register", json={"login": "owner", "password": "right"})
    guesses = [login_from(client, "203.0.113.7", "owner", "wrong").status_code for _ in range(4)]
    assert guesses == [401] * 3 + [429]
    assert login_from(client, "203.0.113.7", "owner", "right").status_code == 429  # the guesser stays out
    assert login_from(client, "198.51.100.1", "owner", "right").status_code == 200


def test_a_guesser_spraying_logins_is_throttled_at_its_own_address_only(app):
    throttled = app_with(app, trusted_proxies=1, login_failures_per_address="4 per minute")
    client = throttled.test_client()
    client.post("/api/user/register", json={"login": "owner", "password": "right"})
    codes = [login_from(client, "203.0.113.7", f"nobody{i}", "x").status_code for i in range(5)]
    assert codes == [401] * 4 + [429]
    assert login_from(client, "198.51.100.1", "nobody0", "x").status_code == 401
    assert login_from(client, "198.51.100.1", "owner", "right").status_code == 200


def test_a_login_alone_has_a_cap_for_guessers_with_many_addresses(app):
    throttled = app_with(app, trusted_proxies=1, login_failures_per_login="4 per minute")
    client = throttled.test_client()
    client.post("/api/user/register", json={"login": "owner", "password": "right"})
    codes = [login_from(client, f"203.0.113.{i}", "owner", "wrong").status_code for i in range(5)]
    assert codes == [401] * 4 + [429]


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(app):
    throttled = app_with(app, login_failures_per_login_and_address="3 per minute")  # TRUSTED_PROXIES: 0
    client = throttled.test_client()
    client.post("/api/user/register", json={"login": "owner", "password": "right"})
    assert [login_from(client, "203.0.113.7", "owner", "wrong").status_code for _ in range(3)] == [401] * 3
    # Both come from the same peer; a header the client wrote changes nothing.
    assert login_from(client, "198.51.100.1", "owner", "right").status_code == 429


def test_only_as_many_forwarded_addresses_as_trusted_proxies_count(app):
    throttled = app_with(app, trusted_proxies=1, login_failures_per_login_and_address="3 per minute")
    client = throttled.test_client()
    client.post("/api/user/register", json={"login": "owner", "password": "right"})
    # The guesser prepends made-up addresses; the proxy appends the one it saw.
    for forged in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert login_from(client, f"{forged}, 203.0.113.7", "owner", "wrong").status_code == 401
    assert login_from(client, "10.0.0.4, 203.0.113.7", "owner", "wrong").status_code == 429
