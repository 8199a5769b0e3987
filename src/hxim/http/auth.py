"""Who may call what on the Easemob REST surface (easemob-rest.md §2.3).

App-admin tokens may call everything of their app. IM-user tokens may act only on their own
user (`/users/{self}/…`: entity, password, contacts, blocks, status, offline count) and on
chat files. Token failures are rendered in the style of the API family: Usergrid's
`unauthorized` / `auth_bad_access_token` / `expired_token`, or the group service's
`group_authorization`.
"""

from __future__ import annotations

from enum import Enum

from hxim import errors
from hxim.errors import HximError
from hxim.model import App
from hxim.services.tokens import Grant, TokenService

__all__ = ["Access", "check_grant", "GROUP_FAMILIES", "permission_error"]

GROUP_FAMILIES = frozenset({"chatgroups", "chatrooms"})
SHIRO = "org.apache.shiro.authz.UnauthorizedException"


class Access(Enum):
    NONE = "none"  # no token needed
    ADMIN = "admin"  # app-admin token only
    SELF = "self"  # admin, or the user named in the path
    ANY = "any"  # any token of the app
    REGISTER = "register"  # admin, or no token when the app has open registration


def permission_error(app: App, method: str, path: str) -> HximError:
    return errors.unauthorized(
        f"Subject does not have permission [applications:{method.lower()}:{app.id}:{path}]", SHIRO
    )


def check_grant(tokens: TokenService, app: App, token: str | None, family: str, method: str, path: str) -> Grant:
    """The grant of `token` for `app`, or the family's 401."""
    group_style = family in GROUP_FAMILIES
    if token is None:
        if group_style:
            raise errors.group_authorization("token is blank!")
        if family == "files":
            raise errors.unauthorized("Unable to authenticate (OAuth)", "EasemobSecurityException")
        raise permission_error(app, method, path)
    try:
        grant = tokens.check(token)
    except HximError:
        if group_style:
            raise errors.group_authorization("this token is bad, or has expired!") from None
        raise
    if grant.app_uuid != app.uuid:
        if group_style:
            raise errors.group_authorization("this token is bad, or has expired!")
        raise permission_error(app, method, path)
    if grant.is_admin and grant.epoch != (app.token_epoch & 0xFFFFFFFF):
        if group_style:
            raise errors.group_authorization("this token is bad, or has expired!")
        raise errors.bad_access_token("Unable to authenticate")
    return grant
