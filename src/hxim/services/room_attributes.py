"""Attributes of groups and chat rooms: a group member's attributes (Easemob's
group_member_attribute_set, _set_batch, _get, _get_by_key pages), a chat room's attributes, each
owned by the member who set it (chatroom_custom_attribute_set, _set_force, _get, _delete,
_delete_force), and chat-room members' tags with mutes by tag (chatroom_user_tag_set, _get,
_mute).

A chat room's attribute belongs to the member who set it last: another member changes or removes
it only with the `forced` calls. Attributes set with `autoDelete: "DELETE"` (the default) go when
their owner leaves the room; a member's group attributes and chat-room tags go when they leave.
A mute by tag mutes the members who have the tag then, as a mute of each would (the owner, who
cannot be muted, is left out). Changes are told to the room's online members
(`NoticeKind.ROOM_MEMBER_ATTRIBUTES`, `ROOM_ATTRIBUTES`; a mute by tag as the mutes it makes).
"""

from __future__ import annotations

import re
from typing import Any

from hxim import errors
from hxim.errors import HximError
from hxim.model import App, now_ms
from hxim.services.notices import NoticeKind
from hxim.services.room_common import MUTE_FOREVER, RoomKind, not_found
from hxim.services.room_notices import RoomEvent
from hxim.storage.room_attributes import (
    FULL,
    MISSING,
    TAKEN,
    delete_room_attributes_txn,
    member_attributes_txn,
    member_tags_txn,
    members_of_txn,
    mute_tag_txn,
    room_attributes_txn,
    set_member_attributes_txn,
    set_member_tags_txn,
    set_room_attributes_txn,
)
from hxim.storage.room_checks import Refusal, Refused
from hxim.storage.rooms import in_room_txn

__all__ = ["RoomAttributeService"]

_KEY = re.compile(r"[A-Za-z0-9_.\-]+")


def metadata_error(status: int, description: str) -> HximError:
    return HximError(status, "metadata_error", description, None, "bad-request" if status == 400 else "item-not-found")


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.illegal_argument(f"{what} must be an array of strings")
    return value


class RoomAttributeService(RoomKind):
    """Member attributes (groups), room attributes and member tags (chat rooms)."""

    # --- a group member's attributes ----------------------------------------------------------------
    def _member_pairs(self, meta: Any) -> dict[str, str]:
        s = self.settings
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise metadata_error(400, "metadata must be an object of string values")
        for key, value in meta.items():
            if not key or len(key.encode()) > s.group_member_attribute_key_max_bytes:
                raise metadata_error(400, "exceeds chatgroup user metadata single key limit")
            if len(value.encode()) > s.group_member_attribute_value_max_bytes:
                raise metadata_error(400, "exceeds chatgroup user metadata single value limit")
        return meta

    async def set_member(
        self, app: App, rid: str, items: list[tuple[str, Any]], actor: str | None = None
    ) -> list[tuple[str, dict[str, str] | None]]:
        """Set members' attributes: for each (username, pairs), their attributes afterwards, or
        None when they would pass `group_member_attributes_max_bytes` (then unchanged)."""
        checked = [(name, self._member_pairs(meta)) for name, meta in items]
        done = await self.db.write(
            set_member_attributes_txn, app.id, self.kind, self._ident(rid), checked,
            self.settings.group_member_attributes_max_bytes,
        )
        if isinstance(done, Refused):
            if done.why is Refusal.NO_ROOM:
                raise metadata_error(404, "group not exists")
            raise metadata_error(400, f"Some users are not in the group: {','.join(done.names)}")
        for (name, after), (_, pairs) in zip(done, checked, strict=True):
            if after is not None:
                payload = {"user": name, "attributes": pairs}
                await self.notifier.broadcast(self.rooms, app, rid, NoticeKind.ROOM_MEMBER_ATTRIBUTES, payload, actor)
        return done

    async def set_member_batch(self, app: App, rid: str, body: Any, actor: str | None = None) -> list[
        tuple[str, dict[str, str] | None]
    ]:
        """`[{"username", "metadata"}, …]`: several members' attributes (the same user twice: merged)."""
        if not isinstance(body, list) or not body:
            raise metadata_error(400, "the body must be a non-empty array of {username, metadata}")
        merged: dict[str, tuple[str, dict[str, Any]]] = {}
        for item in body:
            name = item.get("username") if isinstance(item, dict) else None
            meta = item.get("metadata") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name or not isinstance(meta, dict):
                raise metadata_error(400, "each item needs a username and a metadata object")
            if not meta or not all(meta):
                raise metadata_error(400, "metadata names must not be empty")
            _, pairs = merged.setdefault(name.lower(), (name, {}))
            pairs.update(meta)
        if len(merged) > self.settings.group_member_attributes_batch_max:
            raise metadata_error(400, "exceeds chatgroup metadata batch put users limit")
        return await self.set_member(app, rid, list(merged.values()), actor)

    async def member(self, app: App, rid: str, username: str) -> dict[str, str]:
        found = await self.db.read(members_of_txn, app.id, self.kind, self._ident(rid), [username])
        if isinstance(found, Refused):
            raise metadata_error(404, "group not exists")
        room, members, outside = found
        if outside:
            raise HximError(404, "MetadataException", "user not in group", None, "item-not-found")
        user = members[username.lower()]
        attributes = await self.db.read(member_attributes_txn, room.id, [user.id])
        return attributes[user.id]

    async def members_by_keys(self, app: App, rid: str, targets: Any, properties: Any) -> dict[str, dict[str, str]]:
        """Some members' attributes (`properties` absent or empty: all), every target as given
        (`{}` for one that is not a member)."""
        names = _strings(targets, "targets")
        if len(names) > self.settings.group_member_attributes_get_max:
            raise metadata_error(400, "query param reaches limit.")
        keys = _strings(properties, "properties") if properties is not None else []
        found = await self.db.read(members_of_txn, app.id, self.kind, self._ident(rid), names)
        if isinstance(found, Refused):
            raise metadata_error(404, "group not exists")
        room, members, _ = found
        ids = {k: u.id for k, u in members.items()}
        attributes = await self.db.read(member_attributes_txn, room.id, list(ids.values()), keys or None)
        return {n: attributes[ids[n.lower()]] if n.lower() in ids else {} for n in names}

    # --- a chat room's attributes -------------------------------------------------------------------
    def _room_refused(self, refused: Refused, rid: str) -> HximError:
        if refused.why is Refusal.NO_ROOM:
            return not_found(rid)
        return HximError(401, "MetadataException", "user is not in chatroom", None, "forbidden")

    def _batch(self, count: int) -> None:
        if count > self.settings.chatroom_attributes_batch_max:
            raise errors.metadata_batch(self.settings.chatroom_attributes_batch_max)

    async def set_room(
        self, app: App, rid: str, username: str, meta: Any, auto_delete: Any, forced: bool, actor: str | None
    ) -> tuple[list[str], dict[str, str]]:
        """Set attributes as `username`'s: (the names set, the reason for each not set)."""
        s = self.settings
        if not isinstance(meta, dict) or not meta:
            raise errors.illegal_argument("metaData must be a non-empty object of strings")
        self._batch(len(meta))
        if auto_delete not in (None, "DELETE", "NO_DELETE"):
            raise errors.illegal_argument("autoDelete must be DELETE or NO_DELETE")
        pairs: dict[str, str] = {}
        wrong: dict[str, str] = {}
        for key, value in meta.items():
            if len(key) > s.chatroom_attribute_key_max_length:
                wrong[key] = f"properties key '{key}' is exceeding maximum limit {s.chatroom_attribute_key_max_length}"
            elif not _KEY.fullmatch(key):
                wrong[key] = f"properties key '{key}' may hold only a-z, A-Z, 0-9, '_', '-' and '.'"
            elif not isinstance(value, str) or len(value) > s.chatroom_attribute_value_max_length:
                wrong[key] = (
                    f"properties value of '{key}' must be a string of at most "
                    f"{s.chatroom_attribute_value_max_length} characters"
                )
            else:
                pairs[key] = value
        found = await self.db.write(
            set_room_attributes_txn, app.id, self.kind, self._ident(rid), username, pairs,
            auto_delete != "NO_DELETE", forced, s.chatroom_attributes_max, now_ms(),
        )
        if isinstance(found, Refused):
            raise self._room_refused(found, rid)
        name, done, refused = found
        for key, why in refused.items():
            wrong[key] = (
                f"properties key '{key}' was set by another member: only a forced call may change it"
                if why == TAKEN
                else f"the chat room has {s.chatroom_attributes_max} properties, the most allowed"
            )
            assert why in (TAKEN, FULL)
        if done:
            payload = {"user": name, "event": "set", "attributes": done}
            await self.notifier.broadcast(self.rooms, app, rid, NoticeKind.ROOM_ATTRIBUTES, payload, actor or name)
        return list(done), wrong

    async def room_attributes(self, app: App, rid: str, keys: Any) -> dict[str, str]:
        wanted = _strings(keys, "keys") if keys is not None else []
        found = await self.db.read(
            in_room_txn, app.id, self.kind, self._ident(rid), room_attributes_txn, wanted or None
        )
        if found is None:
            raise not_found(rid)
        return found

    async def delete_room(
        self, app: App, rid: str, username: str, keys: Any, forced: bool, actor: str | None
    ) -> tuple[list[str], dict[str, str]]:
        """Remove attributes as `username` (`keys` absent: all theirs): (the names removed, the
        reason for each not removed)."""
        wanted = _strings(keys, "keys") if keys is not None else None
        if wanted is not None:
            self._batch(len(wanted))
        found = await self.db.write(
            delete_room_attributes_txn, app.id, self.kind, self._ident(rid), username, wanted or None, forced
        )
        if isinstance(found, Refused):
            raise self._room_refused(found, rid)
        name, done, refused = found
        wrong = {
            key: f"properties key '{key}' does not exist"
            if why == MISSING
            else f"properties key '{key}' was set by another member: only a forced call may remove it"
            for key, why in refused.items()
        }
        if done:
            payload = {"user": name, "event": "removed", "keys": done}
            await self.notifier.broadcast(self.rooms, app, rid, NoticeKind.ROOM_ATTRIBUTES, payload, actor or name)
        return done, wrong

    # --- chat-room members' tags --------------------------------------------------------------------
    def _tag(self, tag: Any) -> str:
        if not isinstance(tag, str) or not tag:
            raise errors.invalid_parameter("a tag must be a non-empty string")
        if len(tag) > self.settings.chatroom_tag_max_length:
            raise HximError(403, "exceed_limit", "tag length exceeds limit!", None, "resource-constraint")
        return tag

    def _tag_refused(self, refused: Refused, rid: str) -> HximError:
        if refused.why is Refusal.NO_ROOM:
            return not_found(rid)
        return errors.forbidden_op(f"users [{', '.join(refused.names)}] are not members of this group!", 400)

    async def set_tags(self, app: App, rid: str, username: str, tags: Any) -> None:
        if not isinstance(tags, list):
            raise errors.invalid_parameter("tags should be type of List")
        if len(tags) > self.settings.chatroom_member_tags_max:
            raise HximError(403, "exceed_limit", "user group tag count exceed limit", None, "resource-constraint")
        wanted = list(dict.fromkeys(self._tag(t) for t in tags))
        refused = await self.db.write(set_member_tags_txn, app.id, self.kind, self._ident(rid), username, wanted)
        if refused is not None:
            raise self._tag_refused(refused, rid)

    async def tags(self, app: App, rid: str, username: str) -> dict[str, int]:
        """A member's tags, each with when a mute by it ends (ms; -1 for ever, 0 never muted by it)."""
        found = await self.db.read(member_tags_txn, app.id, self.kind, self._ident(rid), username)
        if isinstance(found, Refused):
            raise self._tag_refused(found, rid)
        return found

    async def mute_tag(self, app: App, rid: str, tag: Any, duration: Any) -> None:
        """Mute the members with `tag` for `duration` seconds (-1 for ever; 0 unmutes them)."""
        tag = self._tag(tag)
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < -1:
            raise errors.invalid_parameter("mute_duration must be a number of seconds, 0 to unmute or -1 for ever")
        now = now_ms()
        if duration == 0:
            tag_expire, mute_expire = 0, None
        elif duration == -1:
            tag_expire, mute_expire = -1, MUTE_FOREVER
        else:
            tag_expire = mute_expire = min(now + duration * 1000, MUTE_FOREVER)
        found = await self.db.write(mute_tag_txn, app.id, self.kind, self._ident(rid), tag, tag_expire, mute_expire)
        if found is None:
            raise errors.resource_not_found("group tag not found")
        if isinstance(found, Refused):
            raise not_found(rid)
        await self._tell(app, rid, RoomEvent.MUTED if mute_expire is not None else RoomEvent.UNMUTED, found)
