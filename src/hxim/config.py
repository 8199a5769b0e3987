"""The one settings object of a node.

Settings come, in increasing priority, from the defaults below, from `hxim.toml` (in the
working directory, or the file named by `HXIM_CONFIG`) and from `HXIM_*` environment
variables (`HXIM_HTTP_PORT=8080`; nested tables with a double underscore). Every limit the
server enforces is a field here; bounds are checked at start. docs/configuration.md lists
them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "load_settings"]

RATE_FAMILIES = (
    "token",
    "users",
    "contacts",
    "blocks",
    "status",
    "offline",
    "messages",
    "files",
    "chatmessages",
    "chatgroups",
    "chatrooms",
)


class Settings(BaseSettings):
    """Every setting of an hxim node, with its default."""

    model_config = SettingsConfigDict(
        env_prefix="HXIM_", env_nested_delimiter="__", extra="forbid", toml_file="hxim.toml"
    )

    # --- listeners -----------------------------------------------------------------------
    http_host: str = "0.0.0.0"
    http_port: int = Field(5280, ge=0, le=65535)
    public_url: str = Field(
        "", description="Base URL clients use (for `uri` fields and file URLs); default derived"
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Path("hxim-data")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite in data_dir")
    db_pool_size: int = Field(8, ge=1, le=256, description="PostgreSQL connections per node")
    sqlite_synchronous: str = Field("NORMAL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")

    # --- apps and identity ---------------------------------------------------------------
    default_app: str = Field("", description="ORG#APP served as the default app")
    node_id: int = Field(0, ge=0, le=1023, description="Distinguishes nodes in generated ids")

    # --- tokens and passwords ------------------------------------------------------------
    token_ttl_seconds: int = Field(5_184_000, ge=60, le=10 * 365 * 86400)
    app_cache_seconds: float = Field(
        2.0, ge=0, le=3600, description="How long a node trusts its cached copy of an app"
    )
    scram_iterations: int = Field(4096, ge=4096, le=1_000_000)
    password_hash_threads: int = Field(2, ge=1, le=64)

    # --- limits --------------------------------------------------------------------------
    username_max_length: int = Field(64, ge=1, le=255)
    password_max_length: int = Field(64, ge=1, le=1024)
    nickname_max_length: int = Field(100, ge=1, le=1024)
    register_batch_max: int = Field(60, ge=1, le=1000)
    users_page_max: int = Field(100, ge=1, le=10_000)
    users_delete_batch_max: int = Field(100, ge=1, le=10_000)
    status_batch_max: int = Field(100, ge=1, le=10_000)
    contacts_max: int = Field(1000, ge=1, le=1_000_000)
    blocks_max: int = Field(500, ge=1, le=1_000_000)
    message_targets_max: int = Field(600, ge=1, le=100_000)
    http_max_body_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)
    message_max_body_bytes: int = Field(
        64 * 1024, ge=512, le=1 << 30, description="Largest POST /messages body"
    )
    chatfile_max_bytes: int = Field(10 * 1024 * 1024, ge=1, le=1 << 31)
    history_page_max: int = Field(1000, ge=1, le=100_000)
    # groups and chat rooms (easemob-rest.md §6, §7)
    group_maxusers_default: int = Field(200, ge=1, le=100_000, description="maxusers of a new group")
    group_maxusers_max: int = Field(3000, ge=1, le=100_000, description="Largest maxusers of a group")
    chatroom_maxusers_default: int = Field(200, ge=1, le=100_000, description="maxusers of a new chat room")
    chatroom_maxusers_max: int = Field(5000, ge=1, le=100_000, description="Largest maxusers of a chat room")
    groups_per_user_max: int = Field(500, ge=1, le=100_000, description="Groups a user may belong to")
    chatrooms_per_user_max: int = Field(500, ge=1, le=100_000, description="Chat rooms a user may belong to")
    room_owner_admins_max: int = Field(100, ge=1, le=10_000, description="Owner plus admins of one group/room")
    room_batch_max: int = Field(60, ge=1, le=10_000, description="Users per batch member/block/mute call")
    room_create_members_max: int = Field(100, ge=1, le=10_000, description="`members` listed at creation")
    room_name_max_length: int = Field(128, ge=1, le=10_000)
    room_description_max_length: int = Field(512, ge=1, le=100_000)
    room_custom_max_length: int = Field(1024, ge=0, le=100_000)
    rooms_page_default: int = Field(10, ge=1, le=10_000, description="GET /chatgroups, /chatrooms without limit")
    rooms_page_max: int = Field(100, ge=1, le=10_000, description="Largest `limit` of the group/room lists")
    room_members_page_max: int = Field(1000, ge=1, le=100_000, description="Largest `pagesize` of member lists")
    rate_limits: dict[str, float] = Field(
        default_factory=dict,
        description="Requests per second per app, by API family; absent or 0 = no limit",
    )

    @field_validator("rate_limits")
    @classmethod
    def _known_families(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(RATE_FAMILIES)
        if unknown:
            raise ValueError(f"unknown rate-limit families {sorted(unknown)}; known: {RATE_FAMILIES}")
        if any(v < 0 for v in value.values()):
            raise ValueError("rate limits must be >= 0")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("HXIM_CONFIG", "hxim.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'hxim.sqlite3').resolve()}"

    def rate_limit(self, family: str) -> float:
        return self.rate_limits.get(family, 0.0)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from hxim.toml and the environment; keyword overrides win."""
    return Settings(**overrides)
