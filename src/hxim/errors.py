"""The one error tree of hxim.

Services raise these; every surface renders them in its own format. An error carries the
hints each surface needs: the HTTP status and Easemob `error` code and Java `exception`
class (Easemob REST, spec easemob-rest.md §1.5 and §11), and the XMPP stanza-error
condition (RFC 6120 §8.3.3) for the XMPP side.
"""

from __future__ import annotations

__all__ = [
    "HximError",
    "illegal_argument",
    "bad_request",
    "json_parse",
    "duplicate_user",
    "required_property_not_found",
    "user_not_found",
    "entity_not_found",
    "app_not_found",
    "invalid_grant",
    "unauthorized",
    "bad_access_token",
    "expired_token",
    "group_authorization",
    "invalid_parameter",
    "forbidden_op",
    "recipient_blocks",
    "recall_window",
    "login_throttled",
    "resource_not_found",
    "group_not_found",
    "too_large",
    "reach_limit",
    "web_application",
    "metadata_auth",
    "metadata_size",
    "metadata_batch",
    "group_error",
    "param_illegal",
]

_USERGRID = "org.apache.usergrid"
_GROUP = "com.easemob.group.exception"


class HximError(Exception):
    """A refusal with everything a surface needs to render it."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        exception: str | None = None,
        condition: str = "bad-request",
        bare: bool = False,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.exception = exception
        self.condition = condition
        # OAuth-style errors of /token carry only `error_description` and `error`.
        self.bare = bare

    def __repr__(self) -> str:
        return f"HximError({self.status}, {self.error!r}, {self.description!r})"


def illegal_argument(description: str) -> HximError:
    return HximError(400, "illegal_argument", description, "java.lang.IllegalArgumentException")


def bad_request(description: str) -> HximError:
    """A refusal of the newer services' pages (reactions, moderation): 400, error type `Bad Request`."""
    return HximError(400, "Bad Request", description, None, "bad-request")


def json_parse(description: str) -> HximError:
    return HximError(400, "json_parse", description, "org.codehaus.jackson.JsonParseException")


def duplicate_user(app_id: str, username: str) -> HximError:
    return HximError(
        400,
        "duplicate_unique_property_exists",
        f"Application {app_id}Entity user requires that property named username be unique, "
        f"value of {username} exists",
        f"{_USERGRID}.persistence.exceptions.DuplicateUniquePropertyExistsException",
        condition="conflict",
    )


def required_property_not_found(description: str) -> HximError:
    return HximError(
        400,
        "required_property_not_found",
        description,
        f"{_USERGRID}.persistence.exceptions.RequiredPropertyNotFoundException",
    )


def user_not_found() -> HximError:
    return HximError(
        404,
        "service_resource_not_found",
        "Service resource not found",
        f"{_USERGRID}.services.exceptions.ServiceResourceNotFoundException",
        condition="item-not-found",
    )


def entity_not_found(description: str) -> HximError:
    return HximError(
        404,
        "entity_not_found",
        description,
        f"{_USERGRID}.persistence.exceptions.EntityNotFoundException",
        condition="item-not-found",
    )


def app_not_found(org: str, app: str, uri_path: str) -> HximError:
    return HximError(
        404,
        "organization_application_not_found",
        f"Could not find application for {org}/{app} from URI: {uri_path}",
        None,
        condition="item-not-found",
    )


def invalid_grant(description: str) -> HximError:
    return HximError(400, "invalid_grant", description, None, "not-authorized", bare=True)


def unauthorized(description: str, exception: str = f"{_USERGRID}.rest.exceptions.SecurityException") -> HximError:
    return HximError(401, "unauthorized", description, exception, "not-authorized")


def bad_access_token(description: str) -> HximError:
    return HximError(
        401,
        "auth_bad_access_token",
        description,
        f"{_USERGRID}.rest.exceptions.SecurityException",
        "not-authorized",
    )


def expired_token() -> HximError:
    return HximError(
        401,
        "expired_token",
        "Unable to authenticate due to expired access token",
        f"{_USERGRID}.rest.exceptions.SecurityException",
        "not-authorized",
    )


def group_authorization(description: str) -> HximError:
    return HximError(
        401, "group_authorization", description, f"{_GROUP}.GroupAuthorizationException", "not-authorized"
    )


def invalid_parameter(description: str) -> HximError:
    return HximError(400, "invalid_parameter", description, f"{_GROUP}.InvalidParameterException")


def forbidden_op(description: str, status: int = 403) -> HximError:
    """The group service's refusal (some pages answer it with 400)."""
    return HximError(status, "forbidden_op", description, f"{_GROUP}.ForbiddenOpException", "forbidden")


def recipient_blocks(username: str) -> HximError:
    """A client's message to a user who blocks its sender (XEP-0191 §3.5: refused, not stored)."""
    return HximError(
        403,
        "forbidden_op",
        f"user [{username}] has blocked the sender",
        "org.apache.usergrid.services.exceptions.ForbiddenServiceOperationException",
        "service-unavailable",
    )


def login_throttled(seconds: int) -> HximError:
    """Too many failed logins of this account from this address (or from anywhere): wait."""
    return HximError(
        429,
        "too_many_failed_logins",
        f"too many failed logins: try again in {seconds} seconds",
        None,
        "policy-violation",
        bare=True,
    )


def rewrite_error(status: int, description: str) -> HximError:
    """A modification Easemob would refuse (`message_rewrite_error`, its message_modify page)."""
    condition = {403: "not-allowed", 404: "item-not-found", 409: "conflict"}.get(status, "bad-request")
    return HximError(status, "message_rewrite_error", description, "MessageRewriteException", condition)


def recall_window(seconds: int) -> HximError:
    """A recall past `message_recall_seconds` (Easemob: 403 `message_recall_error`)."""
    return HximError(
        403,
        "message_recall_error",
        f"a message can only be recalled within {seconds} seconds",
        "EasemobMessageRecallException",
        "not-allowed",
    )


def resource_not_found(description: str) -> HximError:
    return HximError(
        404, "resource_not_found", description, f"{_GROUP}.ResourceNotFoundException", "item-not-found"
    )


def group_not_found(group_id: str) -> HximError:
    return HximError(
        404,
        "service_resource_not_found",
        f"do not find this group:{group_id}",
        f"{_GROUP}.ServiceResourceNotFoundException",
        "item-not-found",
    )


def too_large(limit: int) -> HximError:
    return HximError(
        413,
        "Request Entity Too Large",
        f"Request Entity Too Large (at most {limit} bytes)",
        None,
        "policy-violation",
    )


def reach_limit() -> HximError:
    return HximError(429, "reach_limit", "This request has reached api limit", None, "resource-constraint")


def web_application(status: int, description: str, exception: str) -> HximError:
    return HximError(status, "web_application", description, exception, "bad-request")


# --- user attributes (Easemob's user_attribute_* pages: their own error types, no exception) ---


def metadata_auth() -> HximError:
    """A user token acting on another user's attributes."""
    return HximError(401, "metadata_error", "auth error", None, "not-authorized")


def metadata_size(description: str) -> HximError:
    """Attributes past a size limit (one user's total, one field's length, the app's total)."""
    return HximError(403, "FORBIDDEN", description, None, "resource-constraint")


def metadata_batch(limit: int) -> HximError:
    return HximError(400, "BAD_REQUEST", f"exceed allowed batch size {limit}", None)


# --- threads (Easemob's group_thread_* pages: their own error type, no exception) ---


def group_error(status: int, description: str) -> HximError:
    """A refusal of the thread pages (`group_error`: 400, 403 or 404)."""
    condition = {403: "forbidden", 404: "item-not-found"}.get(status, "bad-request")
    return HximError(status, "group_error", description, None, condition)


def param_illegal() -> HximError:
    """A body the thread pages cannot read."""
    return HximError(400, "param_illegal", "Failed to read HTTP message", None)
