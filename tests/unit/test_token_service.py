"""TokenService: format, signature, expiry, kinds."""

import time
import uuid

import pytest

from hxim.errors import HximError
from hxim.model import App, User, unb64url
from hxim.services.tokens import APP, USER, TokenService

APP_ = App(uuid.uuid1(), "org", "app", "YXA6secret", 3, False, 0)
USER_ = User(7, uuid.uuid1(), APP_.uuid, "Alice", None, True, 0, 0, 5)


def test_app_token_round_trip_and_prefix() -> None:
    tokens = TokenService(b"k" * 32, 3600)
    token = tokens.issue_app(APP_)
    assert token.startswith("YWMt")  # base64 of "ac-"
    assert unb64url(token).startswith(b"ac-")
    grant = tokens.check(token)
    assert grant.kind == APP and grant.is_admin
    assert grant.app_uuid == APP_.uuid and grant.epoch == 3
    assert grant.expires_ms > (time.time() + 3500) * 1000


def test_user_token_names_the_user() -> None:
    tokens = TokenService(b"k" * 32, 3600)
    grant = tokens.check(tokens.issue_user(APP_, USER_))
    assert grant.kind == USER and not grant.is_admin
    assert grant.subject == USER_.uuid and grant.epoch == 5


@pytest.mark.parametrize("bad", ["", "garbage", "YWMt", "YWMt" + "A" * 20, "!!!"])
def test_corrupt_tokens(bad: str) -> None:
    with pytest.raises(HximError) as info:
        TokenService(b"k" * 32, 3600).check(bad)
    assert info.value.error == "auth_bad_access_token"
    assert info.value.description == "Unable to authenticate due to corrupt access token"


def test_token_signed_by_another_key_is_not_ours() -> None:
    token = TokenService(b"a" * 32, 3600).issue_app(APP_)
    with pytest.raises(HximError) as info:
        TokenService(b"b" * 32, 3600).check(token)
    assert (info.value.status, info.value.description) == (401, "Unable to authenticate")


def test_tampered_token_fails_its_signature() -> None:
    tokens = TokenService(b"k" * 32, 3600)
    token = tokens.issue_app(APP_)
    flipped = token[:-30] + ("A" if token[-30] != "A" else "B") + token[-29:]
    with pytest.raises(HximError) as info:
        tokens.check(flipped)
    assert info.value.description in ("Unable to authenticate", "Unable to authenticate due to corrupt access token")


def test_expired_token() -> None:
    tokens = TokenService(b"k" * 32, 3600)
    token = tokens._issue(APP, APP_.uuid, APP_.uuid, 0, -1)
    with pytest.raises(HximError) as info:
        tokens.check(token)
    assert (info.value.status, info.value.error) == (401, "expired_token")


def test_well_formed_token_we_did_not_issue() -> None:
    with pytest.raises(HximError) as info:
        TokenService(b"k" * 32, 3600).check("YWMt" + "A" * 83)
    assert (info.value.error, info.value.description) == ("auth_bad_access_token", "Unable to authenticate")
