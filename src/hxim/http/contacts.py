"""Contacts (friends) and block lists over the Easemob REST surface (easemob-rest.md §4).

Each handler authenticates (through `endpoint`), parses, calls `ContactService` and renders the
answer in Usergrid's envelope. A user token may act on its own lists only (`Access.SELF`).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from hxim.http import easemob_ops as ops
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.http.render import envelope, json_response, user_entity
from hxim.model import User

__all__ = ["routes"]


async def _owner(call: Call) -> User:
    if call.user is not None:
        return call.user
    return await call.node.users.get(call.app, call.arg("owner"))


# --- the lists of easemob-rest.md §4 ------------------------------------------------------------


@endpoint("contacts", Access.SELF, who="owner")
async def add_contact(call: Call) -> Response:
    return json_response(await ops.add_contact(call, call.arg("owner"), call.arg("friend")))


@endpoint("contacts", Access.SELF, who="owner")
async def remove_contact(call: Call) -> Response:
    return json_response(await ops.remove_contact(call, call.arg("owner"), call.arg("friend")))


@endpoint("contacts", Access.SELF, who="owner")
async def list_contacts(call: Call) -> Response:
    return json_response(await ops.list_contacts(call, call.arg("owner")))


@endpoint("blocks", Access.SELF, who="owner")
async def list_blocks(call: Call) -> Response:
    return json_response(await ops.list_blocks(call, call.arg("owner")))


@endpoint("blocks", Access.SELF, who="owner")
async def add_blocks(call: Call) -> Response:
    owner = await _owner(call)
    body = await call.json()
    added = await call.node.contacts.block(call.app, owner, body.get("usernames") if isinstance(body, dict) else None)
    return json_response(
        envelope(action="post", app=call.app, uri=call.uri(""), started=call.started, entities=[], data=added)
    )


@endpoint("blocks", Access.SELF, who="owner")
async def remove_block(call: Call) -> Response:
    owner = await _owner(call)
    target = await call.node.contacts.unblock(call.app, owner, call.arg("blocked"))
    return call.ok("delete", params={}, path=f"/users/{owner.uuid}/blocks", entities=[user_entity(target)])


# --- the route table ---------------------------------------------------------------------------

P = "/{org}/{app}"
routes = [
    Route(P + "/users/{owner}/contacts/users", list_contacts, methods=["GET"]),
    Route(P + "/users/{owner}/contacts/users/{friend}", add_contact, methods=["POST"]),
    Route(P + "/users/{owner}/contacts/users/{friend}", remove_contact, methods=["DELETE"]),
    Route(P + "/users/{owner}/blocks/users", list_blocks, methods=["GET"]),
    Route(P + "/users/{owner}/blocks/users", add_blocks, methods=["POST"]),
    Route(P + "/users/{owner}/blocks/users/{blocked}", remove_block, methods=["DELETE"]),
]
