"""Offline push settings: what each user asks of the pushes of their offline messages (docs/push.md).

Easemob's push_information_bind_unbind and _query (device bindings), push_nickname_set_batch
(push nicknames, which are the users' nicknames), push_settings_set and _query (per conversation
and user-wide: `type` ALL, AT (mentions only), NONE or DEFAULT, `ignoreDuration` and
`ignoreInterval` do-not-disturb), push_preferred_language_set and _obtain, push_template_create,
_query, _delete and push_template_receiver (the app's templates and the one a user receives
with). Refusals are the pages' (push_error): 400 `required_property_not_found` for a user that
does not exist, 400 `illegal_argument` "parameters is invalid : <field>", 400
`entity_not_found` "<name> template is not exist". What is done with them at send time is
`services.push`'s.
"""

from __future__ import annotations

import re
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.model import App, User, now_ms
from hxim.services.users import UserService
from hxim.storage import Database
from hxim.storage.push import (
    Binding,
    Setting,
    Template,
    bind_txn,
    bindings_txn,
    delete_template_txn,
    insert_template_txn,
    preference_txn,
    set_nicknames_txn,
    set_preference_txn,
    set_setting_txn,
    setting_txn,
    template_txn,
    update_template_txn,
)

__all__ = ["CHAT_TYPES", "PushSettings", "TYPES", "invalid", "template_missing"]

TYPES = ("DEFAULT", "ALL", "AT", "NONE")
CHAT_TYPES = ("user", "chatgroup")
DURATION_MAX_MS = 7 * 86_400_000  # the page's [0, 604800000]
_INTERVAL = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9]{1,64}")


def invalid(field: str) -> errors.HximError:
    return errors.illegal_argument(f"parameters is invalid : {field}")


def template_missing(name: str) -> errors.HximError:
    return errors.HximError(
        400, "entity_not_found", f"{name} template is not exist",
        "org.apache.usergrid.persistence.exceptions.EntityNotFoundException", "item-not-found",
    )


def parse_interval(value: str) -> tuple[int, int] | None:
    """`HH:MM-HH:MM` as (start, end) minutes of the day, or None when it is not one."""
    m = _INTERVAL.fullmatch(value)
    if m is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    return h1 * 60 + m1, h2 * 60 + m2


class PushSettings:
    def __init__(self, db: Database, settings: Settings, users: UserService) -> None:
        self.db = db
        self.settings = settings
        self.users = users

    async def _user(self, app: App, ident: str) -> User:
        user = await self.users.find(app, ident)
        if user is None:
            raise errors.required_property_not_found("Entity user requires a property named username")
        return user

    def _text(self, body: dict[str, Any], field: str, most: int, required: bool = True) -> str | None:
        value = body.get(field)
        if value is None and not required:
            return None
        if not isinstance(value, str) or len(value) > most:
            raise invalid(field)
        return value

    # --- device bindings ------------------------------------------------------------------------------
    async def bind(self, app: App, ident: str, body: Any) -> list[Binding]:
        if not isinstance(body, dict):
            raise invalid("device_id")
        most = self.settings.push_field_max_length
        device = self._text(body, "device_id", most)
        if not device:
            raise invalid("device_id")
        notifier = self._text(body, "notifier_name", most) or ""
        token = self._text(body, "device_token", self.settings.push_device_token_max_length) or ""
        user = await self._user(app, ident)
        found = await self.db.write(
            bind_txn, app.id, user.id, device, token, notifier, now_ms(), self.settings.push_bindings_per_user_max
        )
        if found is None:
            raise errors.illegal_argument(
                f"parameters is invalid : a user has at most {self.settings.push_bindings_per_user_max} push bindings"
            )
        return found

    async def bindings(self, app: App, ident: str) -> list[Binding]:
        user = await self._user(app, ident)
        return await self.db.read(bindings_txn, user.id)

    # --- push nicknames --------------------------------------------------------------------------------
    async def set_nicknames(self, app: App, body: Any) -> list[tuple[str, str]]:
        """Set the push nickname (the nickname) of each user listed; (username, nickname) of the
        users that exist."""
        if not isinstance(body, list) or not body:
            raise errors.illegal_argument("put user push nicknames illegal empty request body")
        if len(body) > self.settings.push_nickname_batch_max:
            raise errors.illegal_argument("put user push nicknames exceeds the limit")
        pairs: list[tuple[str, str]] = []
        for entry in body:
            if not isinstance(entry, dict) or not isinstance(entry.get("username"), str) or not entry["username"]:
                raise invalid("username")
            nickname = entry.get("push_nickname")
            if not isinstance(nickname, str):
                raise invalid("push_nickname")
            if len(nickname) > self.settings.nickname_max_length:
                raise errors.illegal_argument(f"{entry['username']} push nickname length exceeds the limit")
            pairs.append((entry["username"].lower(), nickname))
        return await self.db.write(set_nicknames_txn, app.id, pairs, now_ms())

    # --- notification settings ---------------------------------------------------------------------------
    def _conversation(self, user: User, chat_type: str, key: str) -> tuple[str, str]:
        if chat_type not in CHAT_TYPES:
            raise invalid("chattype")
        if not key or len(key) > self.settings.push_field_max_length:
            raise invalid("key")
        return chat_type, key.lower() if chat_type == "user" else key

    @staticmethod
    def user_wide(user: User, chat_type: str, target: str) -> bool:
        return chat_type == "user" and target == user.key

    async def set_setting(self, app: App, ident: str, chat_type: str, key: str, body: Any) -> tuple[Setting, bool]:
        """Change the user's setting of the conversation (or their user-wide one); it afterwards,
        and whether it is the user-wide one."""
        user = await self._user(app, ident)
        chat_type, target = self._conversation(user, chat_type, key)
        wide = self.user_wide(user, chat_type, target)
        if not isinstance(body, dict):
            raise invalid("type")
        values: dict[str, Any] = {}
        if body.get("type") is not None:
            kind = body["type"]
            if not isinstance(kind, str) or kind.upper() not in TYPES or (wide and kind.upper() == "DEFAULT"):
                raise invalid("type")
            values["type"] = kind.upper()
        if body.get("ignoreInterval") is not None:
            interval = body["ignoreInterval"]
            if not isinstance(interval, str) or (interval and parse_interval(interval) is None):
                raise invalid("ignoreInterval")
            values["ignore_interval"] = interval
        if body.get("ignoreDuration") is not None:
            duration = body["ignoreDuration"]
            if isinstance(duration, str) and duration.isdecimal() and len(duration) < 12:
                duration = int(duration)
            if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= DURATION_MAX_MS:
                raise invalid("ignoreDuration")
            values["ignore_until"] = now_ms() + duration if duration else 0
        setting = await self.db.write(set_setting_txn, app.id, user.id, chat_type, target, values)
        return setting, wide

    async def setting(self, app: App, ident: str, chat_type: str, key: str) -> tuple[Setting | None, bool]:
        user = await self._user(app, ident)
        chat_type, target = self._conversation(user, chat_type, key)
        return await self.db.read(setting_txn, user.id, chat_type, target), self.user_wide(user, chat_type, target)

    # --- language and template of a user -------------------------------------------------------------------
    async def set_language(self, app: App, ident: str, body: Any) -> str:
        if not isinstance(body, dict):
            raise invalid("translationLanguage")
        language = self._text(body, "translationLanguage", self.settings.push_field_max_length)
        assert language is not None
        user = await self._user(app, ident)
        await self.db.write(set_preference_txn, app.id, user.id, {"language": language})
        return language

    async def language(self, app: App, ident: str) -> str:
        user = await self._user(app, ident)
        return (await self.db.read(preference_txn, user.id))[0]

    async def set_user_template(self, app: App, ident: str, body: Any) -> str:
        if not isinstance(body, dict):
            raise invalid("templateName")
        name = self._text(body, "templateName", self.settings.push_field_max_length)
        assert name is not None
        user = await self._user(app, ident)
        if name and await self.db.read(template_txn, app.id, name) is None:
            raise template_missing(name)
        await self.db.write(set_preference_txn, app.id, user.id, {"template": name})
        return name

    async def user_template(self, app: App, ident: str) -> str:
        user = await self._user(app, ident)
        return (await self.db.read(preference_txn, user.id))[1]

    # --- the app's templates ---------------------------------------------------------------------------------
    def _patterns(self, body: dict[str, Any]) -> tuple[str, str]:
        most = self.settings.push_template_pattern_max_length
        title = self._text(body, "title_pattern", most)
        content = self._text(body, "content_pattern", most)
        assert title is not None and content is not None
        return title, content

    async def create_template(self, app: App, body: Any) -> Template:
        if not isinstance(body, dict):
            raise invalid("name")
        name = body.get("name")
        if not isinstance(name, str) or not _TEMPLATE_NAME.fullmatch(name):
            raise invalid("name")
        title, content = self._patterns(body)
        now = now_ms()
        template = Template(name, title, content, now, now)
        outcome = await self.db.write(insert_template_txn, app.id, template, self.settings.push_templates_per_app_max)
        if outcome == "exists":
            raise errors.illegal_argument(f"parameters is invalid : template {name} already exists")
        if outcome == "full":
            raise errors.illegal_argument(
                f"parameters is invalid : an app has at most {self.settings.push_templates_per_app_max} templates"
            )
        return template

    async def update_template(self, app: App, name: str, body: Any) -> Template:
        if not isinstance(body, dict):
            raise invalid("title_pattern")
        title, content = self._patterns(body)
        found = await self.db.write(update_template_txn, app.id, name, title, content, now_ms())
        if found is None:
            raise template_missing(name)
        return found

    async def template(self, app: App, name: str) -> Template:
        found = await self.db.read(template_txn, app.id, name)
        if found is None:
            raise template_missing(name)
        return found

    async def delete_template(self, app: App, name: str) -> Template:
        found = await self.db.write(delete_template_txn, app.id, name)
        if found is None:
            raise template_missing(name)
        return found
