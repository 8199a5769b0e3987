"""The app API's input fields, checked as the original's validation rules check them.

Each function reads one field of a handler's inputs and either answers its value or refuses
with the 422 form (`face.invalid`), in the original's Chinese messages; the functions that
take an `errors` dict add their field's messages to it instead, so that a handler reports every
invalid field at once.
"""

from __future__ import annotations

from typing import Any

from hxim.http.apidoc import one_of
from hxim.seeds.app_api.face import invalid
from hxim.services.app_users import parse_app_user_id

__all__ = ["IDS", "USER_ID", "ids", "group_id", "group_ids", "boolean", "text", "maxusers"]

# The fields as the OpenAPI document describes them.
USER_ID = one_of({"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[0-9]+$"},
                 description="an app user's id")
IDS = one_of({"type": "string", "description": "ids separated by commas"}, {"type": "array", "items": USER_ID})


def ids(value: Any, field: str, required_text: str, limit: int) -> list[int]:
    """App user ids from a comma-separated string or an array; 422 with the field's messages."""
    if value is None or value == "" or value == []:
        raise invalid({field: [required_text]})
    parts: list[Any]
    if isinstance(value, list):
        parts = value
    elif isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
    else:
        parts = [value]
    parsed = [parse_app_user_id(p) for p in parts]
    if not parsed or any(i is None for i in parsed):
        raise invalid({field: [f"{field} 必须是以英文逗号隔开的用户 ID"]})
    if len(parsed) > limit:
        raise invalid({field: [f"{field} 最多 {limit} 个"]})
    return list(dict.fromkeys(i for i in parsed if i is not None))


def group_id(inputs: dict[str, Any]) -> str:
    value = inputs.get("im_group_id")
    if value is None or value == "":
        raise invalid({"im_group_id": ["群组ID不能为空"]})
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdecimal():
        raise invalid({"im_group_id": ["im_group_id 必须是个整数"]})
    return str(value)


def group_ids(inputs: dict[str, Any], limit: int) -> list[str]:
    value = inputs.get("im_group_id")
    if value is None or value == "" or value == []:
        raise invalid({"im_group_id": ["群组ID不能为空"]})
    parts = value if isinstance(value, list) else str(value).split(",")
    ids: list[str] = []
    for part in parts:
        text = str(part).strip() if isinstance(part, int | str) and not isinstance(part, bool) else ""
        if not text.isdecimal():
            raise invalid({"im_group_id": ["im_group_id 必须是以英文逗号隔开的群组 ID"]})
        ids.append(text)
    if len(ids) > limit:
        raise invalid({"im_group_id": [f"im_group_id 最多 {limit} 个"]})
    return list(dict.fromkeys(ids))


def boolean(inputs: dict[str, Any], field: str, errors: dict[str, list[str]]) -> bool | None:
    """Laravel's `boolean` rule (true, false, 1, 0, "1", "0"), plus the strings "true"/"false"."""
    value = inputs.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.lower() in ("1", "true", "0", "false"):
        return value.lower() in ("1", "true")
    errors[field] = [f"{field} 字符必须是 true 或 false"]
    return None


def text(
    inputs: dict[str, Any], field: str, required_text: str, errors: dict[str, list[str]], required: bool
) -> str | None:
    value = inputs.get(field)
    if value is None or value == "":
        if required or field in inputs:
            errors[field] = [required_text]
        return None
    if not isinstance(value, str):
        errors[field] = [f"{field} 必须是一个字符串"]
        return None
    return value


def maxusers(inputs: dict[str, Any], high: int, errors: dict[str, list[str]]) -> int | None:
    value = inputs.get("maxusers")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        errors["maxusers"] = [f"maxusers 必须介于 1 - {high} 之间"]
        return None
    return value

