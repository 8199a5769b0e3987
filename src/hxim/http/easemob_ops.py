"""The Easemob REST operations, apart from HTTP: authorise, call a service, render the body.

Each Easemob REST handler in `http/easemob.py` and `http/contacts.py` parses its request, calls
one function here and sends what it returns; `seeds/local.py` calls the same functions to answer the
seed APIs without an HTTP hop, so the `/hx` gateway's `data` is byte for byte what the REST
API renders for the same operation. A function takes an `OpContext` (the app, the caller and
how to render URIs), returns the success body and raises `HximError` for a refusal.
"""

from __future__ import annotations

import hmac
import re
import time
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.http.auth import Access, check_grant, permission_error
from hxim.http.render import envelope, user_entity
from hxim.model import App, User
from hxim.services.messages import ADMIN, SendMessage
from hxim.services.tokens import Grant

if TYPE_CHECKING:
    from hxim.app import Node

__all__ = [
    "OpContext",
    "authorize",
    "ok",
    "issue_admin_token",
    "register",
    "list_users",
    "ql_usernames",
    "get_user",
    "reset_password",
    "status",
    "offline_count",
    "add_contact",
    "remove_contact",
    "list_contacts",
    "list_blocks",
    "send_message",
    "action_only",
]


class OpContext:
    """What an operation needs: the node, the app, the caller once checked, when it started, and
    its URI. Where the URI starts (`base`) is the subclass's: the REST request's (`easemob.Call`),
    or this server's for an operation run in process (`seeds.local.LocalCtx`)."""

    __slots__ = ("node", "app", "started", "grant", "user", "path")

    def __init__(self, node: Node, app: App, started: float, path: str) -> None:
        self.node = node
        self.app = app
        self.started = started
        self.grant: Grant | None = None
        self.user: User | None = None  # the user of a user token
        self.path = path  # the path below /{org}/{app}

    def base(self) -> str:
        raise NotImplementedError

    def uri(self, suffix: str | None = None) -> str:
        return f"{self.base()}/{self.app.org}/{self.app.name}{self.path if suffix is None else suffix}"


def ok(ctx: OpContext, action: str, **fields: Any) -> dict[str, Any]:
    return envelope(action=action, app=ctx.app, uri=ctx.uri(), started=ctx.started, **fields)


def action_only(ctx: OpContext, action: str) -> dict[str, Any]:
    return {
        "action": action,
        "timestamp": int(time.time() * 1000),
        "duration": int((time.perf_counter() - ctx.started) * 1000),
    }


def _is_admin(ctx: OpContext) -> bool:
    return ctx.grant is not None and ctx.grant.is_admin


# --- who may call -------------------------------------------------------------------------------


async def authorize(
    node: Node,
    app: App,
    token: str | None,
    family: str,
    access: Access,
    method: str,
    path: str,
    named: str = "",
) -> tuple[Grant | None, User | None]:
    """Check a bearer token for one operation (easemob-rest.md §2.3): (grant, user of a user token).

    `named` is the user the path names, for `Access.SELF` operations.
    """
    if access is Access.NONE:
        return None, None
    if access is Access.REGISTER and token is None:
        if not app.open_registration:
            raise errors.unauthorized("registration is not open, please contact the app admin")
        return None, None
    grant = check_grant(node.tokens, app, token, family, method, path)
    if grant.is_admin:
        return grant, None
    if access in (Access.ADMIN, Access.REGISTER):
        raise permission_error(app, method, path)
    user = await node.users.user_for_grant(app, grant)
    if access is Access.SELF and named.lower() not in (user.key, str(user.uuid)):
        raise permission_error(app, method, path)
    return grant, user


# --- tokens -------------------------------------------------------------------------------------


def issue_admin_token(node: Node, app: App, ttl: int | None = None) -> dict[str, Any]:
    ttl = ttl or node.settings.token_ttl_seconds
    return {"access_token": node.tokens.issue_app(app, ttl), "expires_in": ttl, "application": app.id}


def equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# --- users --------------------------------------------------------------------------------------


async def register(ctx: OpContext, body: Any) -> dict[str, Any]:
    """`POST /users`: one user object, or (admin only) an array of them."""
    if isinstance(body, list):
        if not _is_admin(ctx):
            raise errors.unauthorized("batch registration needs an app admin token")
        entries = body
    elif isinstance(body, dict):
        entries = [body]
    else:
        raise errors.illegal_argument("Entity user requires a property named username")
    created = await ctx.node.users.register(ctx.app, entries)
    return ok(ctx, "post", params={}, path="/users", entities=[user_entity(u) for u in created])


_QL_SELECT = re.compile(r"\s*select\s+\*\s*", re.I)
_QL_WHERE = re.compile(r"where\s+", re.I)
_QL_TERM = r"username\s*=\s*(?:'([^']*)'|\"([^\"]*)\")"
_QL_TERMS = re.compile(rf"{_QL_TERM}(?:\s+or\s+{_QL_TERM})*\s*", re.I)


def ql_usernames(ql: str, most: int) -> list[str] | None:
    """The usernames a Usergrid query on users asks for, case-folded and each once, or None for
    every user. Understood: `[select *] [where] username='a' [or username='b' …]` (at most
    `most` names) and `select *` alone; any other query is refused, never answered with a list
    it did not ask for."""
    text = ql.strip()
    selected = _QL_SELECT.match(text)
    if selected:
        text = text[selected.end() :]
    if not text:
        return None
    where = _QL_WHERE.match(text)
    if where:
        text = text[where.end() :]
    if not _QL_TERMS.fullmatch(text):
        raise errors.illegal_argument(
            f"ql [{ql[:200]}] is not supported: use select * where username='a' [or username='b' …]"
        )
    names = list(dict.fromkeys(a.lower() or b.lower() for a, b in re.findall(_QL_TERM, text, re.I)))
    if len(names) > most:
        raise errors.illegal_argument(f"ql can name at most {most} users")
    return names


async def list_users(ctx: OpContext, limit: int, cursor: str | None, params: dict[str, list[str]]) -> dict[str, Any]:
    """`GET /users`: a page of the app's users in creation order, or those a `ql` names."""
    queries = params.get("ql")
    if queries and len(set(queries)) > 1:
        raise errors.illegal_argument("ql can be given once")
    names = ql_usernames(queries[0], ctx.node.settings.users_page_max) if queries else None
    if names is None:
        found, next_cursor = await ctx.node.users.page(ctx.app, limit, cursor)
    else:
        found, next_cursor = (await ctx.node.users.get_many(ctx.app, names))[:limit], None
    return ok(
        ctx,
        "get",
        params=params,
        path="/users",
        entities=[user_entity(u) for u in found],
        cursor=next_cursor,
        count=len(found),
    )


async def get_user(ctx: OpContext, ident: str) -> dict[str, Any]:
    user = await ctx.node.users.get(ctx.app, ident)
    return ok(ctx, "get", params={}, path="/users", entities=[user_entity(user)], count=1)


async def reset_password(ctx: OpContext, ident: str, body: Any) -> dict[str, Any]:
    """`PUT /users/{u}/password`: an admin sets `newpassword`; a user changes their own with `oldpassword`."""
    fields = body if isinstance(body, dict) else {}
    users = ctx.node.users
    if _is_admin(ctx):
        await users.reset_password(ctx.app, ident, fields.get("newpassword"))
    else:
        assert ctx.user is not None
        await users.change_own_password(
            ctx.app, ctx.user, fields.get("oldpassword", fields.get("oldPassword")), fields.get("newpassword")
        )
    return action_only(ctx, "set user password")


async def status(ctx: OpContext, ident: str) -> dict[str, Any]:
    user, online = await ctx.node.users.status(ctx.app, ident)
    return ok(ctx, "get", entities=[], data={user.username: "online" if online else "offline"}, count=0)


async def offline_count(ctx: OpContext, ident: str) -> dict[str, Any]:
    user, count = await ctx.node.messages.offline_count(ctx.app, ident)
    return ok(ctx, "get", entities=[], data={user.username: count}, count=0)


# --- contacts and blocks ------------------------------------------------------------------------


async def _owner(ctx: OpContext, ident: str) -> User:
    if ctx.user is not None:
        return ctx.user
    return await ctx.node.users.get(ctx.app, ident)


async def add_contact(ctx: OpContext, owner_ident: str, friend: str) -> dict[str, Any]:
    owner = await _owner(ctx, owner_ident)
    added = await ctx.node.contacts.add(ctx.app, owner, friend)
    return ok(ctx, "post", params={}, path=f"/users/{owner.uuid}/contacts", entities=[user_entity(added)])


async def remove_contact(ctx: OpContext, owner_ident: str, friend: str) -> dict[str, Any]:
    owner = await _owner(ctx, owner_ident)
    gone = await ctx.node.contacts.remove(ctx.app, owner, friend)
    return ok(ctx, "delete", params={}, path=f"/users/{owner.uuid}/contacts", entities=[user_entity(gone)])


async def list_contacts(ctx: OpContext, owner_ident: str) -> dict[str, Any]:
    names = await ctx.node.contacts.names(await _owner(ctx, owner_ident))
    return ok(ctx, "get", entities=[], data=names, count=len(names))


async def list_blocks(ctx: OpContext, owner_ident: str) -> dict[str, Any]:
    names = await ctx.node.contacts.blocked_names(await _owner(ctx, owner_ident))
    return ok(ctx, "get", entities=[], data=names, count=len(names))


# --- messages -----------------------------------------------------------------------------------


_CHAT_TYPES = {"users": "chat", "chatgroups": "groupchat", "chatrooms": "chatroom"}


def send_command(body: Any) -> SendMessage:
    """`POST /messages`'s body (easemob-rest.md §5.1) as the command it asks for."""
    if not isinstance(body, dict):
        raise errors.illegal_argument("this is an invalid request.")
    chat_type = _CHAT_TYPES.get(body.get("target_type"))  # type: ignore[arg-type]
    if chat_type is None:
        raise errors.illegal_argument("target_type can only be 'users' or 'chatgroups' or 'chatrooms'")
    targets = body.get("target")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
        raise errors.illegal_argument("target must be a non-empty array of strings")
    sender = body.get("from")
    if sender is None:
        sender = ADMIN
    if not isinstance(sender, str) or sender == "":
        raise errors.illegal_argument("from can't be empty")
    ext = body.get("ext")
    if "ext" in body and not isinstance(ext, dict):
        raise errors.illegal_argument("ext must be a JSON object")
    msg = body.get("msg")
    if not isinstance(msg, dict):
        raise errors.illegal_argument("msg must be a JSON object with a type")
    return SendMessage(chat_type, tuple(targets), (msg,), ext, sender)


async def send_message(ctx: OpContext, body: Any, use_ids: bool = False) -> dict[str, Any]:
    sent = await ctx.node.messages.send(ctx.app, send_command(body))
    data = {target: (m.msg_id if use_ids and m else "success") for target, m in sent}
    return ok(ctx, "post", path="/messages", data=data)
