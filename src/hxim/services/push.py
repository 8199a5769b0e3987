"""Offline pushes: what a recipient without a session is told, and handing it to a push gateway
(docs/push.md).

hxim reaches no push vendor (APNs, FCM…). A `PushProvider` delivers a rendered push; the one
implementation, `HttpPushProvider`, POSTs it as JSON to `push_url`, a gateway of the operator's.
With `push_url` empty nothing is rendered: the send path asks one attribute.

When a stored 1:1 or group message (not a chat-room message, not a `cmd`) has recipients without
an available session, `MessageService.store_and_route` offers it here once it is stored; the
offer is queued (at most `push_queue_max` messages: past that it is dropped and counted as
failed) and never waits. `push_concurrency` workers take messages from the queue, read what
their recipients set (services.push_settings) in one transaction, and for each recipient:

- suppress the push when the message says `em_ignore_notification`, when the conversation's
  setting or the user-wide one is NONE, when a do-not-disturb is in force (the conversation's
  `ignoreDuration`; the user-wide `ignoreDuration` or `ignoreInterval`, in `push_timezone`; the
  legacy user fields `notification_no_disturbing*` and `notification_ignore_{group}`), or when
  the setting is AT and `ext.em_at_list` names neither "all" nor the user (`em_force_notification`
  overrides all of it but `em_ignore_notification`);
- render title and content from a template: the recipient's (push_template_receiver), else the
  message's `ext.em_push_template.name`, else the app's `detail` (display style 1) or `default`
  template, else the built-in wording of the display style in the user's language (zh*:
  Chinese, else English); `{$fromNickname}` is the sender's nickname (their push nickname, or
  their username), `{$dynamicFrom}` the recipient's remark on the sender, the sender's
  `em_push_ext.group_user_nickname`, or that nickname; `{$msg}` the text (or `[Image]`…), `{0}`…
  the message's `em_push_template.title_args` / `content_args`; `em_apns_ext.em_push_title` and
  `em_push_content` of the message replace what was rendered;
- hand it to the provider. Pushes are best effort: none is retried or kept across a restart.

Each node counts, per app and hour, the pushes attempted, delivered (the gateway answered 2xx)
and failed, and adds them to storage every `push_stats_flush_seconds`; `statistics` answers
Easemob's push_result_statistics page from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import orjson

from hxim.config import Settings
from hxim.model import App, Message, User, now_ms
from hxim.services.callback_http import CallbackHttp, HttpFailure
from hxim.services.push_settings import parse_interval
from hxim.storage import Database
from hxim.storage.push import PushContext, Setting, add_counts_txn, counts_txn, push_context_txn

__all__ = ["HttpPushProvider", "PushProvider", "PushService", "render_push"]

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000
PLATFORM = "HTTP"  # the provider's name in the statistics (Easemob names its vendors: APNS, …)

# built-in wording: (title, content of display style 0, content of display style 1)
_WORDING = {
    "en": ("You have a new message", "Tap to view", "{$dynamicFrom}: {$msg}"),
    "zh": ("您有一条新消息", "请点击查看", "{$dynamicFrom}：{$msg}"),
}
_TYPE_WORDS = {
    "en": {"img": "[Image]", "audio": "[Voice]", "video": "[Video]", "file": "[File]", "loc": "[Location]",
           "custom": "[Custom message]", "combine": "[Chat history]"},
    "zh": {"img": "[图片]", "audio": "[语音]", "video": "[视频]", "file": "[文件]", "loc": "[位置]",
           "custom": "[自定义消息]", "combine": "[聊天记录]"},
}
_PLACEHOLDER = re.compile(r"\{(\$dynamicFrom|\$fromNickname|\$msg|\d{1,3})\}")


class PushProvider(Protocol):
    """Delivers one rendered push (docs/push.md has its fields); True when it was accepted."""

    async def send(self, push: dict[str, Any]) -> bool: ...

    def close(self) -> None: ...


class HttpPushProvider:
    """POSTs each push as JSON to a gateway of the operator's; a 2xx answer is a delivered push."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.timeout = settings.push_timeout_seconds
        self.answer_max = settings.push_answer_max_chars
        self.http = CallbackHttp(settings.push_concurrency)

    async def send(self, push: dict[str, Any]) -> bool:
        try:
            status, _ = await self.http.post(self.url, orjson.dumps(push), self.timeout, self.answer_max)
        except (HttpFailure, TimeoutError, OSError) as exc:
            log.debug("push to %s failed: %r", self.url, exc)
            return False
        return 200 <= status < 300

    def close(self) -> None:
        self.http.close()


def _language(code: str) -> str:
    return "zh" if code.lower().startswith("zh") else "en"


def _mentioned(ext: dict[str, Any], key: str) -> bool:
    at = ext.get("em_at_list")
    if isinstance(at, str):
        return at.lower() == "all"
    return isinstance(at, list) and any(isinstance(n, str) and n.lower() == key for n in at)


def _in_interval(interval: str, minute: int) -> bool:
    span = parse_interval(interval) if interval else None
    if span is None:
        return False
    start, end = span
    if start == end:
        return True
    return start <= minute < end if start < end else (minute >= start or minute < end)


def _legacy_quiet(profile: dict[str, Any], message: Message, hour: int) -> bool:
    """The user fields of Easemob's older API (PUT /users/{u}): do-not-disturb hours, groups ignored."""
    if message.chat_type == "groupchat" and profile.get(f"notification_ignore_{message.to}") is True:
        return True
    if profile.get("notification_no_disturbing") is not True:
        return False
    try:
        start = int(profile.get("notification_no_disturbing_start", 0))
        end = int(profile.get("notification_no_disturbing_end", 0))
    except (TypeError, ValueError):
        return False
    if start == end:
        return True
    return start <= hour < end if start < end else (hour >= start or hour < end)


def _suppressed(
    message: Message, ext: dict[str, Any], key: str, conv: Setting | None, wide: Setting | None,
    profile: dict[str, Any], now: int, local: datetime,
) -> bool:
    if ext.get("em_ignore_notification") is True:
        return True
    if ext.get("em_force_notification") is True:
        return False
    kind = conv.type if conv is not None and conv.type not in (None, "DEFAULT") else None
    if kind is None:
        kind = wide.type if wide is not None and wide.type else "ALL"
    if kind == "NONE":
        return True
    if conv is not None and conv.ignore_until > now:
        return True
    minute = local.hour * 60 + local.minute
    if wide is not None and (wide.ignore_until > now or _in_interval(wide.ignore_interval, minute)):
        return True
    if _legacy_quiet(profile, message, local.hour):
        return True
    return kind == "AT" and not _mentioned(ext, key)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text_of(message: Message, language: str) -> str:
    body = message.bodies[0] if message.bodies else {}
    kind = body.get("type")
    if kind == "txt":
        msg = body.get("msg")
        return msg if isinstance(msg, str) else ""
    return _TYPE_WORDS[language].get(str(kind), _TYPE_WORDS[language]["custom"])


def _fill(pattern: str, values: dict[str, str], args: list[Any]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("$"):
            return values[name]
        i = int(name)
        return str(args[i]) if i < len(args) and args[i] is not None else ""

    return _PLACEHOLDER.sub(one, pattern)


def render_push(
    app: App, message: Message, uid: int, ctx: PushContext, settings: Settings, now: int, local: datetime
) -> dict[str, Any] | None:
    """The push of `message` for recipient `uid`, or None when it is suppressed."""
    ext = _dict(message.ext)
    username = ctx.usernames.get(uid)
    if username is None:  # deleted meanwhile
        return None
    profile = ctx.profiles.get(uid, {})
    if _suppressed(message, ext, username.lower(), ctx.conversation.get(uid), ctx.user_wide.get(uid), profile,
                   now, local):
        return None
    language_code, template_name = ctx.preferences.get(uid, ("", ""))
    language = _language(language_code or settings.push_default_language)
    detail = profile.get("notification_display_style") == 1
    wanted = _dict(ext.get("em_push_template"))
    template = ctx.templates.get(template_name) if template_name else None
    if template is None and isinstance(wanted.get("name"), str):
        template = ctx.templates.get(wanted["name"])
    if template is None:
        template = ctx.templates.get("detail" if detail else "default")
    if template is not None:
        title_pattern, content_pattern, used = template.title_pattern, template.content_pattern, template.name
    else:
        title, plain, full = _WORDING[language]
        title_pattern, content_pattern, used = title, full if detail else plain, None
    nickname = ctx.sender_nickname or message.sender
    group_nick = _dict(ext.get("em_push_ext")).get("group_user_nickname") if message.chat_type == "groupchat" else None
    dynamic = ctx.remarks.get(uid) or (group_nick if isinstance(group_nick, str) and group_nick else None) or nickname
    values = {"$dynamicFrom": dynamic, "$fromNickname": nickname, "$msg": _text_of(message, language)}
    title = _fill(title_pattern, values, _list(wanted.get("title_args")))
    content = _fill(content_pattern, values, _list(wanted.get("content_args")))
    apns = _dict(ext.get("em_apns_ext"))
    if isinstance(apns.get("em_push_title"), str):
        title = apns["em_push_title"]
    if isinstance(apns.get("em_push_content"), str):
        content = apns["em_push_content"]
    return {
        "appkey": app.appkey,
        "user": username,
        "devices": [
            {"device_id": d, "device_token": t, "notifier_name": n} for d, t, n in ctx.bindings.get(uid, [])
        ],
        "title": title,
        "content": content,
        "language": language_code or settings.push_default_language,
        "template": used,
        "msg_id": message.msg_id,
        "chat_type": message.chat_type,
        "from": message.sender,
        "to": message.to,
        "timestamp": message.timestamp,
        "ext": ext,
    }


_Offer = tuple[App, Message, list[User]]


class PushService:
    def __init__(self, db: Database, settings: Settings, provider: PushProvider | None = None) -> None:
        self.db = db
        self.settings = settings
        if provider is None and settings.push_url:
            provider = HttpPushProvider(settings.push_url, settings)
        self.provider = provider
        self.zone = ZoneInfo(settings.push_timezone)
        self._queue: deque[_Offer] = deque()
        self._wake: asyncio.Event | None = None
        self._stopping: asyncio.Event  # set by stop(), made by start() on the serving loop
        self._tasks: list[asyncio.Task[None]] = []
        self._halt = False
        # (app uuid, hour) -> [attempted, succeeded, failed], not yet in storage
        self._counts: dict[tuple[str, int], list[int]] = {}

    # --- the send path -----------------------------------------------------------------------------------
    def offer(self, app: App, message: Message, users: list[User]) -> None:
        """Queue the pushes of a stored message for its recipients without a session; never waits."""
        if message.chat_type == "chatroom" or any(b.get("type") == "cmd" for b in message.bodies):
            return
        if len(self._queue) >= self.settings.push_queue_max:
            self._count(app.id, len(users), 0, len(users))
            return
        self._queue.append((app, message, users))
        if self._wake is not None:
            self._wake.set()

    # --- the workers ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.provider is None or self._tasks:
            return
        self._halt = False
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._work(), name=f"hxim-push-{i}") for i in range(self.settings.push_concurrency)
        ]
        self._tasks.append(loop.create_task(self._flusher(), name="hxim-push-counts"))

    async def stop(self, timeout: float = 5.0) -> None:
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        self._halt = True
        assert self._wake is not None
        self._wake.set()
        self._stopping.set()
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()
        if self.provider is not None:
            self.provider.close()

    async def _work(self) -> None:
        assert self._wake is not None
        while not self._halt:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            app, message, users = self._queue.popleft()
            try:
                await self._push(app, message, users)
            except Exception:  # a push is best effort: log it, keep working
                log.exception("pushes of message %s failed", message.id)
                self._count(app.id, len(users), 0, len(users))

    async def _push(self, app: App, message: Message, users: list[User]) -> None:
        assert self.provider is not None
        ext = message.ext if isinstance(message.ext, dict) else {}
        wanted = ext.get("em_push_template")
        names = ["default", "detail"]
        if isinstance(wanted, dict) and isinstance(wanted.get("name"), str):
            names.append(wanted["name"])
        target = message.to if message.chat_type == "groupchat" else None
        chat_type = "chatgroup" if target is not None else "user"
        ctx = await self.db.read(
            push_context_txn, app.id, [u.id for u in users], message.sender.lower(), chat_type, target, names
        )
        now = now_ms()
        local = datetime.fromtimestamp(now / 1000, tz=self.zone)
        for user in users:
            push = render_push(app, message, user.id, ctx, self.settings, now, local)
            if push is None:
                continue
            ok = await self.provider.send(push)
            self._count(app.id, 1, int(ok), int(not ok))

    # --- counts and statistics ---------------------------------------------------------------------------------
    def _count(self, app_id: str, attempted: int, succeeded: int, failed: int) -> None:
        key = (app_id, now_ms() // HOUR_MS * HOUR_MS)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0, 0]
        counts[0] += attempted
        counts[1] += succeeded
        counts[2] += failed

    async def _flush(self) -> None:
        counts, self._counts = self._counts, {}
        if counts:
            await self.db.write(add_counts_txn, [(app, hour, *c) for (app, hour), c in counts.items()])

    async def _flusher(self) -> None:
        while not self._halt:
            with contextlib.suppress(TimeoutError):  # woken early only to stop
                await asyncio.wait_for(self._stopping.wait(), self.settings.push_stats_flush_seconds)
            try:
                await self._flush()
            except Exception:
                log.exception("push counts could not be written")

    async def statistics(self, app: App, first: date, last: date, platform: str) -> dict[str, Any]:
        """Easemob's `data` of push_result_statistics: {day: {platform: {successCount, failCount}}}
        for each day from `first` to `last` (in `push_timezone`), newest first."""
        start = int(datetime(first.year, first.month, first.day, tzinfo=self.zone).timestamp() * 1000)
        after = last + timedelta(days=1)
        end = int(datetime(after.year, after.month, after.day, tzinfo=self.zone).timestamp() * 1000)
        rows = await self.db.read(counts_txn, app.id, start, end)
        days: dict[str, list[int]] = {}
        day = last
        while day >= first:
            days[day.isoformat()] = [0, 0]
            day -= timedelta(days=1)
        pending = [(h, *c) for (a, h), c in list(self._counts.items()) if a == app.id and start <= h < end]
        for hour, _attempted, succeeded, failed in [*rows, *pending]:
            name = datetime.fromtimestamp(hour / 1000, tz=self.zone).date().isoformat()
            if name in days:
                days[name][0] += succeeded
                days[name][1] += failed
        if platform not in ("ALL", PLATFORM):
            return {name: {} for name in days}
        return {name: {PLATFORM: {"successCount": s, "failCount": f}} for name, (s, f) in days.items()}
