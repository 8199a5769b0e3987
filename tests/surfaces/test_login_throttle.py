"""Failed password grants are throttled (`LoginThrottle`): per account and address, per address,
per account; the answer while waiting is 429 `too_many_failed_logins`, even for the right
password; the app's client_credentials grant is throttled the same way, apart from its users."""

from __future__ import annotations

import time

from conftest import Api, Server, unique

LOCKOUT = 2
EXTRA_ENV = {
    "HXIM_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS": "3",
    "HXIM_LOGIN_FAILURES_PER_ADDRESS": "8",
    "HXIM_LOGIN_LOCKOUT_SECONDS": str(LOCKOUT),
}


def _grant(api: Api, username: str, password: str) -> tuple[int, dict[str, str]]:
    r = api.post("/token", json={"grant_type": "password", "username": username, "password": password}, token=None)
    return r.status_code, r.json()


def _wait_error(body: dict[str, str]) -> None:
    assert body["error"] == "too_many_failed_logins" and "try again in" in body["error_description"], body


def test_wrong_passwords_make_the_caller_wait(extra_server: Server) -> None:
    api = Api(extra_server)
    name, other = unique("lt"), unique("lu")
    api.register(name, other)
    for _ in range(3):
        status, body = _grant(api, name, "wrong")
        assert status == 400 and body["error"] == "invalid_grant"
    status, body = _grant(api, name, "secret1")  # right, but this address must wait for this account
    assert status == 429
    _wait_error(body)
    assert _grant(api, other, "secret1")[0] == 200  # another account is not concerned
    time.sleep(LOCKOUT + 0.5)
    assert _grant(api, name, "secret1")[0] == 200
    # guessing across many accounts from one address: the address waits, for every account
    for _ in range(8):
        _grant(api, unique("nobody"), "guess")
    status, body = _grant(api, other, "secret1")
    assert status == 429
    _wait_error(body)
    time.sleep(LOCKOUT + 0.5)
    assert _grant(api, other, "secret1")[0] == 200


def test_client_credentials_are_throttled_apart(extra_server: Server) -> None:
    api = Api(extra_server)
    creds = api.creds
    grant = {"grant_type": "client_credentials", "client_id": creds.client_id}
    for _ in range(3):
        r = api.post("/token", json={**grant, "client_secret": "YXA6wrong"}, token=None)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = api.post("/token", json={**grant, "client_secret": creds.client_secret}, token=None)
    assert r.status_code == 429
    _wait_error(r.json())
    time.sleep(LOCKOUT + 0.5)
    assert api.post("/token", json={**grant, "client_secret": creds.client_secret}, token=None).status_code == 200
