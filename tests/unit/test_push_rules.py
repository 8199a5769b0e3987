"""Who gets an offline push and what it says (services.push.render_push), without a server:
settings of the conversation over the user-wide ones, do-not-disturb spans and hours, mentions,
templates and their placeholders, the built-in wording per display style and language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hxim.config import Settings
from hxim.model import App, Message
from hxim.services.push import render_push
from hxim.storage.push import PushContext, Setting, Template

APP = App(uuid.uuid4(), "org", "app", "", 0, False, 0)
NOW = 1_700_000_000_000
NOON = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings()
BOB = 7


def msg(text: str = "hi", ext: dict[str, Any] | None = None, group: bool = False) -> Message:
    return Message(1, APP.uuid, "groupchat" if group else "chat", "alice", "g1" if group else "bob", NOW,
                   [{"type": "txt", "msg": text}], ext)


def ctx(**kw: Any) -> PushContext:
    c = PushContext(usernames={BOB: "bob"}, profiles={BOB: {}}, sender_nickname="Alice")
    for name, value in kw.items():
        setattr(c, name, value)
    return c


def push(message: Message, c: PushContext, when: datetime = NOON) -> dict[str, Any] | None:
    return render_push(APP, message, BOB, c, SETTINGS, NOW, when)


def test_conversation_setting_wins_over_the_user_wide_one() -> None:
    none, everything = Setting("NONE", "", 0), Setting("ALL", "", 0)
    assert push(msg(), ctx(user_wide={BOB: none})) is None
    assert push(msg(), ctx(user_wide={BOB: none}, conversation={BOB: everything})) is not None
    assert push(msg(), ctx(user_wide={BOB: everything}, conversation={BOB: Setting("DEFAULT", "", 0)})) is not None
    assert push(msg(), ctx(conversation={BOB: none})) is None


def test_do_not_disturb_spans_and_hours() -> None:
    assert push(msg(), ctx(conversation={BOB: Setting(None, "", NOW + 1)})) is None
    assert push(msg(), ctx(conversation={BOB: Setting(None, "", NOW - 1)})) is not None
    over_night = ctx(user_wide={BOB: Setting("ALL", "22:00-08:00", 0)})
    assert push(msg(), over_night) is not None
    assert push(msg(), over_night, NOON.replace(hour=23)) is None
    assert push(msg(), over_night, NOON.replace(hour=7, minute=59)) is None
    assert push(msg(), ctx(user_wide={BOB: Setting("ALL", "09:00-09:00", 0)})) is None  # all day
    legacy = ctx(profiles={BOB: {"notification_no_disturbing": True, "notification_no_disturbing_start": "10",
                                 "notification_no_disturbing_end": "14"}})
    assert push(msg(), legacy) is None and push(msg(), legacy, NOON.replace(hour=15)) is not None
    assert push(msg(group=True), ctx(profiles={BOB: {"notification_ignore_g1": True}})) is None
    forced = msg(ext={"em_force_notification": True})
    assert push(forced, ctx(conversation={BOB: Setting("NONE", "", NOW + 1)})) is not None
    assert push(msg(ext={"em_ignore_notification": True}), ctx()) is None


def test_mentions_only() -> None:
    at = ctx(conversation={BOB: Setting("AT", "", 0)})
    assert push(msg(group=True), at) is None
    assert push(msg(group=True, ext={"em_at_list": ["carol"]}), at) is None
    assert push(msg(group=True, ext={"em_at_list": ["Bob"]}), at) is not None
    assert push(msg(group=True, ext={"em_at_list": "ALL"}), at) is not None


def test_built_in_wording_per_style_and_language() -> None:
    plain = push(msg(), ctx())
    assert plain is not None and (plain["title"], plain["content"]) == ("You have a new message", "Tap to view")
    detail = push(msg(), ctx(profiles={BOB: {"notification_display_style": 1}}, remarks={BOB: "Ally"}))
    assert detail is not None and detail["content"] == "Ally: hi"
    zh = push(Message(1, APP.uuid, "chat", "alice", "bob", NOW, [{"type": "img"}]),
              ctx(profiles={BOB: {"notification_display_style": 1}}, preferences={BOB: ("zh-CN", "")}))
    assert zh is not None and (zh["title"], zh["content"]) == ("您有一条新消息", "Alice：[图片]")


def test_templates_and_their_arguments() -> None:
    mine = Template("mine", "{$fromNickname}: {0}", "{$dynamicFrom} {$msg} {1}{5}", 0, 0)
    named = Template("named", "N", "N", 0, 0)
    ext = {"em_push_template": {"name": "named", "title_args": ["t0"], "content_args": ["c0", "c1"]},
           "em_push_ext": {"group_user_nickname": "Al"}}
    both = {"mine": mine, "named": named}
    p = push(msg(ext=ext, group=True), ctx(preferences={BOB: ("", "mine")}, templates=both))
    assert p is not None and (p["title"], p["content"], p["template"]) == ("Alice: t0", "Al hi c1", "mine")
    p = push(msg(ext=ext), ctx(templates={"named": named, "default": mine}))
    assert p is not None and p["template"] == "named"
    p = push(msg(), ctx(templates={"default": Template("default", "D", "D", 0, 0)}))
    assert p is not None and p["template"] == "default"
    p = push(msg(ext={"em_apns_ext": {"em_push_title": "T", "em_push_content": "C"}}), ctx())
    assert p is not None and (p["title"], p["content"]) == ("T", "C")
