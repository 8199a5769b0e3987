"""The one settings object of a node, and where it comes from.

Settings come, in increasing priority, from the defaults below, from a TOML file (`hxim
--config FILE`, else the file named by `HXIM_CONFIG`, else `hxim.toml` in the working
directory), from `HXIM_*` environment variables (`HXIM_HTTP_PORT=8080`; nested tables with a
double underscore) and from command-line options (`hxim serve --port 8080`). Every limit the
server enforces is a field here; bounds are checked at start, and `read_settings` turns every
bad key or value into one plain line naming where it came from. docs/configuration.md lists
them all.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "ConfigError",
    "Origins",
    "Settings",
    "changed_settings",
    "environment_variable",
    "locate_data_dir",
    "read_settings",
    "unknown_variables",
]

CONFIG_FILE = "hxim.toml"  # read from the working directory when no other file is named
LEGACY_DATA_DIR = Path("hxim-data")  # where hxim kept its data, in the working directory, before
SECRET: dict[str, Any] = {"secret": True}  # a setting `hxim config check` never shows

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
    "metadata",
    "presence",
    "mutes",
    "collections",
    "reactions",
    "moderation",
    "translate",
    "threads",
    "push",
)


class Settings(BaseSettings):
    """Every setting of an hxim node, with its default."""

    model_config = SettingsConfigDict(
        env_prefix="HXIM_", env_nested_delimiter="__", extra="forbid"
    )

    # --- listeners -----------------------------------------------------------------------
    http_host: str = Field("0.0.0.0", description="Address the HTTP listener binds")
    http_port: int = Field(5280, ge=0, le=65535, description="HTTP port (REST APIs and XMPP over WebSocket)")
    public_url: str = Field(
        "", description="Base URL clients use (for `uri` fields and file URLs); default derived"
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are "
        "believed: an HTTP request from one comes from the client the proxy names (login throttling, "
        "`admin_allow_from`, `metrics_access`, the access log); `*`: any peer",
    )

    # --- XMPP (docs/routing.md) ----------------------------------------------------------------
    xmpp_enabled: bool = Field(True, description="Serve XMPP clients (TCP listener, /ws/ and /http-bind/)")
    xmpp_host: str = Field("0.0.0.0", description="Address the XMPP TCP listener binds")
    xmpp_port: int = Field(5222, ge=0, le=65535, description="XMPP client port (TCP, STARTTLS)")
    xmpp_domain: str = Field("easemob.com", min_length=1, description="XMPP domain; rooms at conference.<domain>")
    xmpp_tls_cert: str = Field("", description="PEM certificate (chain) for STARTTLS; empty: no TLS")
    xmpp_tls_key: str = Field("", description="PEM private key for STARTTLS")
    xmpp_allow_plaintext: bool = Field(
        False,
        description="Allow SASL without TLS on the TCP listener. Without a certificate and without this, "
        "the TCP listener is not started",
    )
    xmpp_proxy_protocol: bool = Field(
        False,
        description="TCP listener behind a load balancer that passes connections through: a connection from an "
        "address of `trusted_proxies` starts with a PROXY protocol header (v1 or v2; HAProxy: `send-proxy-v2`) naming "
        "the client, whose address failed logins are then counted by; one without it is closed",
    )
    xmpp_tcp_mechanisms: list[str] = Field(
        default_factory=lambda: ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"],
        description="SASL mechanisms offered on TCP, in order",
    )
    xmpp_ws_mechanisms: list[str] = Field(
        default_factory=lambda: ["PLAIN"],
        description="SASL mechanisms offered over WebSocket and BOSH (the Web IM SDK can only use PLAIN)",
    )
    xmpp_ws_deflate: bool = Field(
        False,
        description="Accept permessage-deflate (RFC 7692) on WebSocket connections; off: stanzas are small, "
        "and compressing each frame costs 7-10 % more CPU per message (docs/benchmarks.md)",
    )
    xmpp_max_stanza_bytes: int = Field(
        256 * 1024, ge=1024, le=64 << 20, description="Largest stanza a client may send (policy-violation)"
    )
    xmpp_idle_timeout_seconds: float = Field(
        600, ge=0, le=86400, description="TCP: close a connection silent this long (connection-timeout); 0 = never"
    )
    xmpp_ws_idle_timeout_seconds: float = Field(
        0, ge=0, le=86400, description="WebSocket: the same; 0 = never (the Web IM SDK sends no keepalives)"
    )
    xmpp_shutdown_seconds: float = Field(
        2, ge=0, le=60, description="A stopping node waits this long at most for the streams it ends to send their last"
        " bytes",
    )
    xmpp_handshake_timeout_seconds: float = Field(
        60, ge=1, le=3600, description="Time allowed from connect to a bound resource"
    )
    xmpp_queue_max: int = Field(
        1000, ge=1, le=1_000_000, description="Outbound stanzas queued per session; overflow disconnects"
    )
    xmpp_flood_rate: float = Field(
        200, ge=0, description="Stanzas per second a session may send (token bucket); 0 = no limit"
    )
    xmpp_flood_burst: int = Field(400, ge=1, description="Burst of the stanza rate limit (policy-violation)")
    xmpp_offline_batch: int = Field(200, ge=1, le=10_000, description="Offline messages read per batch on replay")
    xmpp_bosh_max_wait_seconds: int = Field(
        60, ge=1, le=3600, description="BOSH (/http-bind/): longest a request is held (caps the client's `wait`)"
    )
    xmpp_bosh_max_hold: int = Field(
        1, ge=1, le=16, description="BOSH: most requests held at once per session (caps the client's `hold`)"
    )
    xmpp_bosh_inactivity_seconds: float = Field(
        60, ge=1, le=3600, description="BOSH: end a session with no request outstanding this long"
    )
    xmpp_bosh_polling_seconds: int = Field(
        2, ge=0, le=3600, description="BOSH: the shortest polling interval announced to clients (`polling`)"
    )
    xmpp_bosh_max_sessions: int = Field(
        10_000, ge=1, le=1_000_000, description="BOSH: most sessions per node (remote-connection-failed beyond)"
    )
    xmpp_bosh_max_body_bytes: int = Field(
        256 * 1024 + 4096, ge=1024, le=64 << 20, description="BOSH: largest request body (policy-violation)"
    )

    # --- msync (docs/msync.md) -----------------------------------------------------------
    msync_enabled: bool = Field(
        True, description="Serve Easemob's Web SDK 4.x and Agora Chat (msync over WebSocket at /websocket)"
    )
    msync_idle_timeout_seconds: float = Field(
        90, ge=0, le=86400, description="msync: close a connection silent this long (the SDK's heartbeat is 30 s); "
        "0 = never",
    )
    msync_page_size: int = Field(100, ge=1, le=10_000, description="msync: metas per page of a queue the client pulls")
    msync_queue_max: int = Field(
        5000, ge=1, le=1_000_000, description="msync: metas waiting per session; overflow disconnects (what is stored "
        "stays offline)",
    )
    msync_offline_max: int = Field(
        10_000, ge=1, le=1_000_000, description="msync: offline messages (and kept notices) read at login; the rest at "
        "the next login",
    )
    msync_flood_rate: float = Field(200, ge=0, description="msync: frames per second a session may send; 0 = no limit")
    msync_flood_burst: int = Field(400, ge=1, description="msync: burst of the frame rate limit")

    # --- storage -------------------------------------------------------------------------
    data_dir: Path | None = Field(
        None,
        description="Directory of the embedded SQLite database. Unset: `./hxim-data` if the current directory has "
        "one (older installs), else systemd's StateDirectory (`/var/lib/hxim` with deploy/hxim.service), else "
        "`$XDG_DATA_HOME/hxim` (`~/.local/share/hxim`)",
    )
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite in data_dir")
    db_pool_size: int = Field(8, ge=1, le=256, description="PostgreSQL connections per node")
    db_connect_timeout_seconds: float = Field(
        10, gt=0, le=600, description="PostgreSQL: how long a node waits for a connection before it gives up"
    )
    db_native: bool = Field(
        True,
        description="PostgreSQL: run the hot statements (the user read, the offline count, the group commits of "
        "messages and of contacts) on an asyncpg pool on the event loop instead of the worker threads",
    )
    db_native_pool_size: int = Field(
        8, ge=1, le=256, description="PostgreSQL: connections of that asyncpg pool per node (`db_native`)"
    )
    db_statement_cache_size: int = Field(
        100,
        ge=0,
        le=100_000,
        description="PostgreSQL: prepared statements each asyncpg connection keeps (`db_native`; 0: none, "
        "for a pooler in transaction mode such as PgBouncer's)",
    )
    log_level: str = Field(
        "INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="Least important log lines written: DEBUG, "
        "INFO, WARNING or ERROR"
    )
    sqlite_synchronous: str = Field(
        "NORMAL",
        pattern="^(OFF|NORMAL|FULL|EXTRA)$",
        description="SQLite `synchronous` pragma (FULL fsyncs every commit)",
    )
    gc_young_threshold: int = Field(
        50_000,
        ge=700,
        le=10_000_000,
        description="Allocations between collections of Python's youngest GC generation (CPython's "
        "default is 700; higher keeps short-lived stanzas out of the full collections that pause the loop)",
    )
    sqlite_checkpoint_seconds: float = Field(
        0.25,
        ge=0,
        le=3600,
        description="SQLite: checkpoint the WAL on a background thread this often; 0 = SQLite's automatic "
        "checkpoints, which run (and fsync) inside a commit on the event loop",
    )
    sqlite_checkpoint_pause_ms: int = Field(
        50,
        ge=0,
        le=10_000,
        description="SQLite: how long group commits (stored messages) may wait for a background checkpoint, "
        "so that it catches up with the WAL and the WAL starts over instead of growing; 0 = never wait",
    )
    sqlite_commit_interval_ms: float = Field(
        1.0,
        ge=0,
        le=1000,
        description="SQLite: the shortest time between two group commits of stored messages; under load, "
        "messages arriving meanwhile share the next commit (fewer, larger WAL writes); 0 = commit at once",
    )
    export_batch_rows: int = Field(
        500,
        ge=1,
        le=10_000,
        description="`hxim export` and `hxim import`: rows read per page of a table, and records written per "
        "transaction (docs/backup.md)",
    )
    export_batch_bytes: int = Field(
        8 * 1024 * 1024,
        ge=65_536,
        le=1 << 31,
        description="`hxim export` and `hxim import`: bytes of records held at once; a page of chat files holds "
        "as many as fit at their largest (`chatfile_max_bytes`), one at least",
    )

    # --- operating: health, metrics, logs (docs/operating.md) ---------------------------------
    ready_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="GET /ready: how long each check (the database) has to answer before the "
        "node is reported not ready (503)"
    )
    metrics_access: str = Field(
        "local", pattern="^(local|open|token)$", description="Who may read GET /metrics: `local` (loopback "
        "addresses only), `open` (anyone), or `token` (a bearer token equal to `metrics_token`); others get 403"
    )
    metrics_token: str = Field(
        "", description="The bearer token /metrics asks for when `metrics_access` is `token` (required then)"
    )
    log_format: str = Field(
        "text", pattern="^(text|json)$", description="Log lines as `text` (time, level, logger, message) or `json` "
        "(one JSON object per line: time, level, logger, message and the line's extra fields)"
    )
    access_log: bool = Field(
        False, description="Log one line per HTTP request: method, path, status and duration (logger `hxim.access`)"
    )

    # --- apps and identity ---------------------------------------------------------------
    default_app: str = Field("", description="ORG#APP served as the default app")
    node_number: int | None = Field(
        None, ge=0, le=1023, description="The number message, group and chat-room ids embed, unique per node; "
        "default: 0 on a single node, a free one leased from Redis in a cluster"
    )

    # --- cluster (docs/scaling.md) ---------------------------------------------------------
    redis_url: str = Field(
        "", description="Redis that nodes sharing one PostgreSQL database route through (`redis://host:6379/0`); "
        "set, the node joins the cluster; empty, it is a single node"
    )
    cluster_name: str = Field(
        "hxim", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
        description="What the cluster's Redis keys and channels start with: clusters sharing one Redis need "
        "different names (Redis channels are not per database)",
    )
    node_id: str = Field(
        "", max_length=100, pattern=r"^[A-Za-z0-9_.:\-]*$",
        description="This node's name in the cluster; default: the host name and the process id",
    )
    cluster_heartbeat_seconds: float = Field(
        1.0, gt=0, le=60, description="How often a cluster node says it is alive and looks for nodes that stopped"
    )
    cluster_node_timeout_seconds: float = Field(
        5.0, gt=0, le=600, description="A node silent this long is taken for dead: its users are offline on every "
        "other node"
    )
    cluster_delivery_batch: int = Field(
        512, ge=1, le=100_000, description="Offline entries of messages delivered on this node for another one "
        "removed per statement"
    )
    workers: int = Field(
        1, ge=1, le=256, description="`hxim serve`: node processes sharing the listening ports (SO_REUSEPORT) as "
        "one cluster; above 1, `redis_url` and a PostgreSQL `database_url` are needed"
    )
    worker_stable_seconds: float = Field(
        10, gt=0, le=3600, description="`hxim serve --workers`: a worker that ends before it has served this long "
        "failed at once; one that served longer is started again at once"
    )
    worker_restart_delay_seconds: float = Field(
        1, ge=0, le=600, description="`hxim serve --workers`: the wait before a worker that failed at once is started "
        "again, doubled at each such failure in a row"
    )
    worker_failures_max: int = Field(
        5, ge=1, le=10, description="`hxim serve --workers`: failures at once in a row of one worker after which every "
        "worker is stopped and hxim exits"
    )
    worker_stop_timeout_seconds: float = Field(
        15, gt=0, le=3600, description="`hxim serve --workers`: how long a stopping supervisor waits for its workers "
        "to end before it kills them (SIGKILL)"
    )

    # --- tokens and passwords ------------------------------------------------------------
    token_ttl_seconds: int = Field(
        5_184_000, ge=60, le=10 * 365 * 86400, description="Lifetime of access tokens (`expires_in`), seconds"
    )
    app_cache_seconds: float = Field(
        2.0, ge=0, le=3600, description="How long a node trusts its cached copy of an app"
    )
    scram_iterations: int = Field(4096, ge=4096, le=1_000_000, description="PBKDF2 iterations of new SCRAM keys")
    password_hash_threads: int = Field(2, ge=1, le=64, description="Threads that derive password keys")

    # --- limits --------------------------------------------------------------------------
    username_max_length: int = Field(64, ge=1, le=255, description="Longest username, bytes")
    password_max_length: int = Field(64, ge=1, le=1024, description="Longest password, characters")
    nickname_max_length: int = Field(100, ge=1, le=1024, description="Longest nickname, characters")
    register_batch_max: int = Field(60, ge=1, le=1000, description="Users per batch registration")
    users_page_max: int = Field(100, ge=1, le=10_000, description="Largest `limit` of GET /users")
    users_delete_batch_max: int = Field(100, ge=1, le=10_000, description="Largest `limit` of DELETE /users")
    status_batch_max: int = Field(100, ge=1, le=10_000, description="Usernames per batch status request")
    contacts_max: int = Field(1000, ge=1, le=1_000_000, description="Contacts per user")
    blocks_max: int = Field(500, ge=1, le=1_000_000, description="Blocked users per user")
    contact_requests_max: int = Field(
        1000, ge=1, le=1_000_000, description="Friend requests (XMPP `subscribe`) a user may have waiting for an answer"
    )
    contacts_page_max: int = Field(50, ge=1, le=10_000, description="Largest `limit` of GET /user/{u}/contacts")
    contacts_import_max: int = Field(
        10, ge=1, le=10_000, description="Usernames per POST /users/{u}/contacts/import"
    )
    contacts_check_max: int = Field(
        100, ge=1, le=10_000, description="Usernames in `check_list` of POST /contacts/check and /blocks/check"
    )
    contact_remark_max_length: int = Field(100, ge=1, le=10_000, description="Longest contact remark, characters")
    message_targets_max: int = Field(
        600, ge=1, le=100_000, description="Users per POST /messages or /messages/users (`to`, `target`)"
    )
    message_group_targets_max: int = Field(3, ge=1, le=1000, description="Groups per POST /messages/chatgroups")
    message_chatroom_targets_max: int = Field(
        10, ge=1, le=1000, description="Chat rooms per POST /messages/chatrooms"
    )
    message_directed_users_max: int = Field(
        20, ge=1, le=10_000, description="`users` of a directed group or chat-room message"
    )
    roaming_delete_max: int = Field(
        50, ge=1, le=10_000, description="Message ids per one-sided roaming delete (`msgIdList`)"
    )
    message_recall_batch_max: int = Field(30, ge=1, le=1000, description="Messages per POST /messages/batch_recall")
    message_edit_max: int = Field(10, ge=1, le=1000, description="How many times one message may be modified")
    message_roam_ignore_max: int = Field(
        20, ge=0, le=10_000, description="`roam_ignore_users` of one message (users who do not read it back)"
    )
    http_max_body_bytes: int = Field(1 << 20, ge=1024, le=1 << 30, description="Largest JSON request body")
    http_header_timeout_seconds: float = Field(
        10, gt=0, le=3600, description="Time a connection has to send a complete request line and headers "
        "(from opening, or from a request's first byte when kept alive); then it is closed"
    )
    http_body_timeout_seconds: float = Field(
        30, gt=0, le=3600, description="Time a request has to send its whole JSON body (408 past it)"
    )
    login_failure_window_seconds: float = Field(
        60, gt=0, le=86400, description="Window over which failed logins are counted (SASL, password grants)"
    )
    login_failures_per_account_address: int = Field(
        5, ge=1, le=100_000, description="Failed logins of one account from one address before that address waits"
    )
    login_failures_per_address: int = Field(
        30, ge=1, le=1_000_000, description="Failed logins from one address, any account, before it waits"
    )
    login_failures_per_account: int = Field(
        100, ge=1, le=1_000_000, description="Failed logins of one account, any address, before it waits"
    )
    login_lockout_seconds: float = Field(
        30, ge=0, le=86400, description="How long a throttled login waits; doubled per repeated lockout of "
        "one account from one address"
    )
    login_lockout_max_seconds: float = Field(
        300, ge=0, le=86400, description="The longest wait of a throttled login"
    )
    # --- the admin console (/admin, docs/admin.md) -------------------------------------------
    admin_enabled: bool = Field(True, description="Serve the admin console at /admin on the HTTP port")
    admin_allow_from: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Client addresses (CIDRs) that may reach /admin; others get 403. Behind a reverse proxy "
        "the address is the one it sends in X-Forwarded-For (believed from `trusted_proxies`)",
    )
    admin_session_seconds: int = Field(
        8 * 3600, ge=60, le=30 * 86400, description="Lifetime of an admin console login"
    )
    admin_password_min_length: int = Field(
        10, ge=1, le=1024, description="Shortest password `hxim admin add` and `hxim admin password` accept"
    )
    admin_bcrypt_rounds: int = Field(12, ge=4, le=16, description="bcrypt cost of admin console passwords")
    admin_page_max: int = Field(
        200, ge=1, le=10_000, description="Most users, groups or chat rooms one page of the admin console lists"
    )
    json_max_depth: int = Field(
        64, ge=2, le=200, description="Deepest nesting of objects and arrays accepted in JSON a caller sends "
        "(REST bodies, Easemob JSON message bodies over XMPP)"
    )
    message_max_body_bytes: int = Field(
        64 * 1024, ge=512, le=1 << 30, description="Largest POST /messages body"
    )
    chatfile_max_bytes: int = Field(10 * 1024 * 1024, ge=1, le=1 << 31, description="Largest uploaded chat file")
    history_page_max: int = Field(1000, ge=1, le=100_000, description="Largest `limit` of GET /chatmessages")
    history_file_timezone: str = Field(
        "UTC", description="Time zone of the hour GET /chatmessages/{yyyyMMddHH} names (Easemob's China "
        "cluster: Asia/Shanghai)"
    )
    history_file_link_seconds: int = Field(
        3600, ge=60, le=7 * 86400, description="How long the download link GET /chatmessages/{time} answers stays valid"
    )
    message_roaming_page_size: int = Field(
        20, ge=1, le=1000, description="Messages per page of POST /users/{u}/messageroaming (the Web IM SDK's history)"
    )
    message_roaming_pull_max: int = Field(
        50, ge=1, le=1000,
        description="Largest `pull_number` of the Web SDK 4.x's POST /users/{u}/messageroaming (messages a page)",
    )
    conversations_page_max: int = Field(
        50, ge=1, le=1000, description="Largest `limit` of the Web SDK 4.x's conversation list (conversations a page)"
    )
    conversations_scan_max: int = Field(
        10_000, ge=100, le=10_000_000,
        description="Newest 1:1 messages a user received, and as many sent, whose peers the Web SDK 4.x's "
        "conversation list shows",
    )
    chatfile_link_downloads: bool = Field(
        True,
        description="Serve a chat file whose id is random (UUID v4) to a GET without token or share-secret "
        "(apps load message.url as an image, with no headers); false: files always need them",
    )
    chatfile_lifetime_seconds: int = Field(
        0, ge=0, le=100 * 365 * 86400,
        description="How long a chat file is kept after its upload, or its last `refresh` (PUT "
        "/users/{u}/chatfiles/lifetime), unless made `forever`; 0 = every file for ever",
    )
    chatfile_purge_interval_seconds: int = Field(
        3600, ge=1, le=365 * 86400, description="At most this often an upload removes the expired chat files"
    )
    chatfile_lifetime_batch_max: int = Field(
        100, ge=1, le=10_000, description="`chatfile_ids` per PUT /users/{u}/chatfiles/lifetime"
    )
    message_recall_seconds: int = Field(
        120, ge=0, le=365 * 86400, description="How long its sender may recall a message (XMPP); 0 = no limit"
    )
    # broadcasts (Easemob's broadcast_to_* pages): jobs worked through in batches
    broadcast_batch_size: int = Field(
        200, ge=1, le=100_000, description="Targets (users or chat rooms) a broadcast sends to in one batch, one "
        "transaction (users: at most `message_targets_max`)"
    )
    broadcast_batch_interval_ms: float = Field(
        0, ge=0, le=3_600_000, description="Pause between two batches of a broadcast (spreads its load); 0 = none"
    )
    broadcast_users_per_day: int = Field(
        3, ge=0, le=1_000_000, description="Broadcasts to all users (POST /messages/broadcast) an app may start in "
        "24 hours; 0 = no limit"
    )
    broadcast_online_users_per_day: int = Field(
        50, ge=0, le=1_000_000, description="Broadcasts to the online users (POST /messages/users/broadcast) an app "
        "may start in 24 hours; 0 = no limit"
    )
    broadcast_chatrooms_per_day: int = Field(
        100, ge=0, le=1_000_000, description="Broadcasts to every chat room (POST /messages/chatrooms/broadcast) an "
        "app may start in 24 hours; 0 = no limit"
    )
    # stream messages (Easemob's message_stream_send_* pages)
    stream_message_max_bytes: int = Field(
        128 * 1024, ge=1, le=1 << 30, description="Text of all the chunks of one stream message, UTF-8 bytes"
    )
    stream_message_chunk_interval_seconds: float = Field(
        30, gt=0, le=86400, description="Longest wait between two chunks of a stream message (then it ends)"
    )
    stream_message_total_seconds: float = Field(
        1800, gt=0, le=7 * 86400, description="Longest time from a stream message's first chunk to its last"
    )
    # callbacks (Easemob's callback_* pages, docs/callbacks.md): rules per app, a durable outbox
    callback_rules_per_app_max: int = Field(20, ge=1, le=1000, description="Callback rules one app may have")
    callback_rules_reload_ms: float = Field(
        500, gt=0, le=60_000, description="How often a running node looks for changed callback rules"
    )
    callback_poll_ms: float = Field(
        200, gt=0, le=60_000, description="How often the callback worker looks for callbacks due again (new "
        "ones wake it at once)"
    )
    callback_concurrency_per_rule: int = Field(
        16, ge=1, le=1000,
        description="Callbacks of one rule in flight at once: post-send POSTs (connections to its URL), "
        "and pre-send requests waiting for their answers",
    )
    callback_timeout_seconds: float = Field(
        5, gt=0, le=600, description="Whole-request timeout of a post-send callback"
    )
    callback_retry_base_seconds: float = Field(
        1, gt=0, le=86400, description="First delay before a failed post-send callback is tried again (doubled "
        "at each failure)"
    )
    callback_retry_max_delay_seconds: float = Field(
        600, gt=0, le=86400, description="Longest delay between two tries of one post-send callback"
    )
    callback_retry_max_age_seconds: float = Field(
        3 * 86400, gt=0, le=365 * 86400, description="How long a post-send callback is retried; past that it "
        "is kept as failed (GET /callbacks/storage/info, replayed with POST /callbacks/storage/retry)"
    )
    callback_failed_keep_seconds: float = Field(
        3 * 86400, gt=0, le=365 * 86400, description="How long a failed post-send callback is kept for a replay"
    )
    callback_rule_backoff_after: int = Field(
        10, ge=1, le=1_000_000, description="Failures in a row after which a rule's callbacks are held back (the "
        "rule is backed off, doubled up to callback_retry_max_delay_seconds, never disabled)"
    )
    callback_answer_max_chars: int = Field(
        1000, ge=1, le=1_000_000, description="Longest answer a callback receiver may give (longer: a failure)"
    )
    callback_presend_timeout_ms: int = Field(
        200, ge=1, le=60_000, description="Default wait for a pre-send answer (a rule's --timeout-ms overrides it)"
    )
    callback_sender: Literal["process", "inline"] = Field(
        "process", description="Where post-send callbacks are delivered from: `process`, a child process of the "
        "node with its own database connection (it claims, POSTs and deletes them; the core serving messages only "
        "writes them), or `inline`, the node's own event loop"
    )
    callback_claim_batch: int = Field(
        1024, ge=1, le=100_000, description="Post-send callbacks of one rule the worker takes from storage in one go"
    )
    callback_batch_ms: float = Field(
        100, ge=0, le=10_000,
        description="Callback delivery process: the shortest time between two of its transactions (callbacks "
        "stored meanwhile are claimed together, those delivered meanwhile deleted together); the most it delays "
        "a callback. On SQLite each one makes the node's connection read its pages afresh (a fraction of a "
        "millisecond of the core serving messages), so under load fewer is cheaper",
    )
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
    user_groups_page_default: int = Field(5, ge=1, le=10_000, description="GET /chatgroups/user/{u} without pagesize")
    user_groups_page_max: int = Field(
        20, ge=1, le=10_000, description="Largest page of GET /chatgroups/user/{u} (a larger pagesize gets this many)"
    )
    rooms_page_max: int = Field(100, ge=1, le=10_000, description="Largest `limit` of the group/room lists")
    room_members_page_max: int = Field(1000, ge=1, le=100_000, description="Largest `pagesize` of member lists")
    fanout_cache_members: int = Field(
        200_000, ge=0, le=100_000_000, description="Room members kept in memory for message fan-out; 0 = none"
    )
    room_announcement_max_length: int = Field(
        512, ge=1, le=100_000, description="Longest group or chat-room announcement, characters"
    )
    group_shared_files_page_max: int = Field(
        1000, ge=1, le=100_000, description="Largest (and default) `pagesize` of GET /chatgroups/{g}/share_files"
    )
    group_member_attribute_key_max_bytes: int = Field(
        16, ge=1, le=255, description="Longest group member attribute name, UTF-8 bytes"
    )
    group_member_attribute_value_max_bytes: int = Field(
        512, ge=1, le=1 << 20, description="Longest group member attribute value, UTF-8 bytes"
    )
    group_member_attributes_max_bytes: int = Field(
        4096, ge=1, le=1 << 20, description="All attributes of one member in one group, UTF-8 bytes of names and values"
    )
    group_member_attributes_batch_max: int = Field(
        20, ge=1, le=10_000, description="Members per PUT /metadata/chatgroup/{g}/users/batch"
    )
    group_member_attributes_get_max: int = Field(
        10, ge=1, le=10_000, description="`targets` per POST /metadata/chatgroup/{g}/get"
    )
    chatroom_attributes_batch_max: int = Field(
        10, ge=1, le=10_000, description="Attributes per set or delete of chat-room attributes"
    )
    chatroom_attribute_key_max_length: int = Field(128, ge=1, le=255, description="Longest chat-room attribute name")
    chatroom_attribute_value_max_length: int = Field(
        4096, ge=1, le=1 << 20, description="Longest chat-room attribute value, characters"
    )
    chatroom_attributes_max: int = Field(100, ge=1, le=100_000, description="Attributes of one chat room")
    chatroom_member_tags_max: int = Field(10, ge=0, le=1000, description="Tags of one member in one chat room")
    chatroom_tag_max_length: int = Field(32, ge=1, le=255, description="Longest chat-room member tag, characters")
    # threads of groups (/thread…, Easemob's group_thread_* pages)
    thread_name_max_length: int = Field(64, ge=1, le=1024, description="Longest thread name, characters")
    threads_per_app_max: int = Field(100_000, ge=1, le=100_000_000, description="Threads of one app")
    threads_per_user_max: int = Field(100_000, ge=1, le=100_000_000, description="Threads a user may belong to")
    thread_members_batch_max: int = Field(
        10, ge=1, le=1000, description="Users per POST or DELETE /thread/{id}/users"
    )
    threads_page_max: int = Field(
        50, ge=1, le=10_000, description="Largest `limit` (and the default) of thread and thread-member lists"
    )
    # user attributes (/metadata/user/…, Easemob's user_attribute_* pages)
    user_metadata_user_max_bytes: int = Field(
        2048, ge=1, le=1 << 20, description="Total size of one user's attributes (UTF-8 bytes of keys and values)"
    )
    user_metadata_app_max_bytes: int = Field(
        10 << 30, ge=1, le=1 << 50, description="Total size of the attributes of all users of one app, bytes"
    )
    user_metadata_key_max_bytes: int = Field(
        128, ge=1, le=255, description="Longest attribute name, UTF-8 bytes (Easemob documents none)"
    )
    user_metadata_field_max_lengths: dict[str, int] = Field(
        default_factory=lambda: {
            "nickname": 64, "avatarurl": 256, "phone": 32, "mail": 64, "sign": 256, "birth": 64
        },
        description="Longest value, characters, of the attributes the client SDKs know by name",
    )
    user_metadata_body_max_bytes: int = Field(
        4096, ge=256, le=1 << 20, description="Largest PUT /metadata/user/{u} body"
    )
    user_metadata_batch_max: int = Field(
        100, ge=1, le=10_000, description="`targets` per POST /metadata/user/get"
    )
    # presence (/users/{u}/presence…, /presence/online/…: Easemob's presence_* pages)
    presence_ext_max_bytes: int = Field(
        1024, ge=0, le=1 << 20, description="Longest `ext` (custom status text) of a device's presence, UTF-8 bytes"
    )
    presence_status_max_length: int = Field(
        16, ge=1, le=64, description="Longest `{status}` (digits: 0 offline, 1 online, others custom) set over REST"
    )
    presence_resource_max_length: int = Field(
        255, ge=1, le=255, description="Longest `{resource}` (device) a presence is set for, characters"
    )
    presence_batch_max: int = Field(
        100, ge=1, le=10_000, description="Users per presence subscribe, unsubscribe or batch get"
    )
    presence_subscriptions_max: int = Field(
        3000, ge=1, le=1_000_000, description="Users one user may follow; past it a new subscription replaces "
        "the one closest to its expiry"
    )
    presence_subscribers_max: int = Field(
        3000, ge=1, le=1_000_000, description="Users who may follow one user (more are refused)"
    )
    presence_expiry_max_seconds: int = Field(
        2_592_000, ge=1, le=10 * 365 * 86400, description="Longest presence subscription, seconds"
    )
    presence_sublist_page_max: int = Field(
        100, ge=1, le=10_000, description="Largest `pageSize` of GET /users/{u}/presence/sublist"
    )
    # global mutes (/mutes, Easemob's user_global_mute_* pages)
    mutes_page_default: int = Field(10, ge=1, le=10_000, description="GET /mutes without pageSize")
    mutes_page_max: int = Field(50, ge=1, le=10_000, description="Largest `pageSize` of GET /mutes")
    # user collections (/users/{u}/collections, /collections, Easemob's user_collection_* pages)
    collection_id_max_length: int = Field(128, ge=1, le=128, description="Longest collection id, characters")
    collection_data_max_length: int = Field(
        20480, ge=1, le=1 << 24, description="Longest `data` of a collection, characters"
    )
    collection_ext_max_length: int = Field(
        1024, ge=1, le=1 << 20, description="Longest `ext` of a collection, characters"
    )
    collection_batch_max: int = Field(
        20, ge=1, le=10_000, description="Collections per POST /collections, and ids per DELETE"
    )
    collections_page_default: int = Field(100, ge=1, le=10_000, description="GET …/collections without `limit`")
    collections_page_max: int = Field(200, ge=1, le=10_000, description="Largest `limit` of GET …/collections")
    collections_per_user_max: int = Field(10_000, ge=1, le=10_000_000, description="Collections one user may keep")
    collection_body_max_bytes: int = Field(
        2 << 20, ge=1024, le=1 << 30, description="Largest request body of the collection calls"
    )
    # message reactions (/reaction/user/{u}, Easemob's reaction_* pages)
    reactions_per_message_max: int = Field(
        20, ge=1, le=10_000, description="Different reactions one message may carry"
    )
    reaction_max_length: int = Field(128, ge=1, le=128, description="Longest reaction (emoji id), characters")
    reaction_messages_per_query_max: int = Field(
        20, ge=1, le=1_000, description="Message ids per GET /reaction/user/{u} (`msgIdList`)"
    )
    reaction_users_preview: int = Field(
        3, ge=0, le=100, description="Users listed per reaction by GET /reaction/user/{u} (the earliest)"
    )
    reaction_detail_page_max: int = Field(
        50, ge=1, le=10_000, description="Largest `limit` of GET /reaction/user/{u}/detail (also its default)"
    )
    # text moderation (/moderation/text/list…, /moderation/txt/check, Easemob's keyword_* pages)
    moderation_lists_per_app_max: int = Field(100, ge=1, le=100_000, description="Keyword lists one app may have")
    moderation_words_per_list_max: int = Field(
        10_000, ge=1, le=10_000_000, description="Keywords one list may hold"
    )
    moderation_words_per_app_max: int = Field(
        1_000_000, ge=1, le=100_000_000, description="Keywords all the lists of one app may hold"
    )
    moderation_list_create_words_max: int = Field(
        200, ge=1, le=100_000, description="Keywords a list may be created with (`textContexts`)"
    )
    moderation_word_batch_max: int = Field(
        100, ge=1, le=100_000, description="Keywords per batch add (`wordContents`) or batch delete (`wordIds`)"
    )
    moderation_word_max_length: int = Field(128, ge=1, le=1024, description="Longest keyword, characters")
    moderation_list_name_max_length: int = Field(32, ge=1, le=255, description="Longest list name, characters")
    moderation_page_default: int = Field(10, ge=1, le=10_000, description="Lists or words per page without `size`")
    moderation_page_max: int = Field(200, ge=1, le=10_000, description="Largest `size` of a list or word search")
    moderation_check_max_length: int = Field(
        10_000, ge=1, le=1 << 20, description="Longest `content` of POST /moderation/txt/check, characters"
    )
    # translation (/translate…, Easemob's message_translation_* pages): no engine ships with hxim
    translation_url: str = Field(
        "", description="Base URL of an HTTP translation engine (docs/api.md, \"Translation\"); empty: the "
        "translation calls answer that the service is not open"
    )
    translation_timeout_seconds: float = Field(10.0, gt=0, le=600, description="Whole-call timeout of the engine")
    translation_text_max_length: int = Field(
        10_000, ge=1, le=1 << 20, description="Characters of `text` times target languages a translation may take"
    )
    # offline push (Easemob's push_* pages, docs/push.md): settings kept, pushes handed to a gateway
    push_url: str = Field(
        "", description="URL of an HTTP push gateway of the operator's that receives each rendered offline push "
        "as a JSON POST (docs/push.md); empty: no push is rendered or sent"
    )
    push_timeout_seconds: float = Field(5.0, gt=0, le=600, description="Whole-request timeout of one push")
    push_queue_max: int = Field(
        10_000, ge=1, le=10_000_000, description="Messages waiting for their pushes to be rendered; past it a "
        "message's pushes are dropped (best effort, counted as failed)"
    )
    push_concurrency: int = Field(8, ge=1, le=1000, description="Pushes in flight at once (connections to push_url)")
    push_answer_max_chars: int = Field(
        1000, ge=1, le=1_000_000, description="Longest answer the push gateway may give (longer: a failure)"
    )
    push_timezone: str = Field(
        "UTC", description="Time zone of the do-not-disturb hours (ignoreInterval) and of the days of the push "
        "statistics"
    )
    push_default_language: str = Field(
        "en", description="Language of the built-in push wording for users who set none (zh*: Chinese, else English)"
    )
    push_nickname_batch_max: int = Field(50, ge=1, le=10_000, description="Users per PUT /push/nickname")
    push_bindings_per_user_max: int = Field(
        20, ge=1, le=10_000, description="Push bindings (device and certificate) one user may have"
    )
    push_field_max_length: int = Field(
        255, ge=1, le=255, description="Longest device id, certificate name, language code and template name, "
        "characters"
    )
    push_device_token_max_length: int = Field(4096, ge=1, le=1 << 20, description="Longest device token, characters")
    push_template_pattern_max_length: int = Field(
        1024, ge=1, le=1 << 20, description="Longest title_pattern or content_pattern of a push template, characters"
    )
    push_templates_per_app_max: int = Field(100, ge=1, le=100_000, description="Push templates one app may have")
    push_stats_days_max: int = Field(
        31, ge=1, le=3660, description="Days one GET /push/data/offline-push/… may span"
    )
    push_stats_flush_seconds: float = Field(
        1.0, gt=0, le=3600, description="How often the push counts of a node are added to storage"
    )
    # --- the seed APIs: the /hx gateway and /api/v2/easemob -----------------------------------
    hx_gateway_app: str = Field("", description="ORG#APP the /hx gateway serves; default: the default app")
    hx_gateway_key: str = Field(
        "", description="Key a non-loopback caller of /hx/getToken sends in X-HX-Gateway-Key; empty = loopback only",
        json_schema_extra=SECRET,
    )
    hx_gateway_trust_loopback: bool = Field(
        True,
        description="Hand /hx/getToken tokens to loopback callers without a key (never to proxied requests)",
    )
    hx_users_page_max: int = Field(20, ge=1, le=10_000, description="Largest `limit` of /hx/getUser")
    app_api_app: str = Field("", description="ORG#APP the /api/v2/easemob API serves; default: the default app")
    app_api_jwt_secret: str = Field(
        "", description="HS256 secret of /api/v2 JWTs; empty = a random key kept in the database",
        json_schema_extra=SECRET,
    )
    app_api_jwt_ttl_seconds: int = Field(
        3600, ge=60, le=365 * 86400, description="Lifetime of tokens from POST /api/v2/auth/login"
    )
    app_api_bcrypt_rounds: int = Field(10, ge=4, le=16, description="bcrypt cost of app-user passwords")
    app_api_group_maxusers_max: int = Field(
        2000, ge=1, le=100_000, description="Largest `maxusers` POST/PATCH /api/v2/easemob/group accepts"
    )
    app_api_ids_max: int = Field(100, ge=1, le=10_000, description="Ids per /api/v2/easemob request (groups, users)")
    # upstream mode: both seed APIs drive a remote Easemob-compatible REST API
    upstream_base_url: str = Field(
        "", description="Base URL of a remote Easemob REST API (e.g. https://a1.easemob.com); empty = local engine"
    )
    upstream_org: str = Field("", description="Org name of the remote app")
    upstream_app: str = Field("", description="App name of the remote app")
    upstream_client_id: str = Field("", description="client_id of the remote app")
    upstream_client_secret: str = Field("", description="client_secret of the remote app", json_schema_extra=SECRET)
    upstream_timeout_seconds: float = Field(10.0, gt=0, le=600, description="Whole-call timeout of a remote call")
    upstream_connect_timeout_seconds: float = Field(3.0, gt=0, le=600, description="Connect timeout of a remote call")
    upstream_retries: int = Field(3, ge=0, le=20, description="Retries of a remote call answered 429 or 5xx")
    upstream_backoff_seconds: float = Field(
        0.25, ge=0, le=60, description="First retry delay; doubles with every retry"
    )
    upstream_backoff_max_seconds: float = Field(4.0, ge=0, le=600, description="Longest retry delay")
    upstream_token_margin_seconds: float = Field(
        300, ge=0, le=86400, description="Renew the cached remote admin token this long before it expires"
    )
    upstream_max_connections: int = Field(64, ge=1, le=10_000, description="Connections kept to the remote")
    # hxim migrate-from-easemob: how the source Easemob REST API is called (docs/migrating.md)
    migration_requests_per_second: float = Field(
        20.0, ge=0, le=10_000, description="Requests a second hxim migrate-from-easemob sends to the source at most "
        "(--requests-per-second); 0 = no pacing"
    )
    migration_concurrency: int = Field(
        4, ge=1, le=256, description="Requests hxim migrate-from-easemob has in flight at once"
    )
    migration_page_size: int = Field(
        100, ge=1, le=1000, description="Users, groups, chat rooms and members hxim migrate-from-easemob asks for "
        "a page (--page-size; Easemob allows at most 100 users a page)"
    )
    migration_retries: int = Field(
        10, ge=0, le=100, description="Retries of a source call answered 429 or 5xx, or left unanswered"
    )
    migration_backoff_seconds: float = Field(
        0.5, ge=0, le=600, description="First retry delay of a source call; doubles with every retry"
    )
    migration_backoff_max_seconds: float = Field(
        60.0, ge=0, le=3600, description="Longest retry delay of a source call (Easemob allows 10 history "
        "files a minute)"
    )
    migration_timeout_seconds: float = Field(
        60.0, gt=0, le=3600, description="Whole-call timeout of a source call (a history file download too)"
    )
    migration_history_days: int = Field(
        3, ge=0, le=3650, description="Days of message history hxim migrate-from-easemob copies without "
        "--messages-since (Easemob keeps 3 days of history files unless the plan says more)"
    )
    migration_history_requests_per_minute: float = Field(
        10.0, ge=0, le=60_000, description="History files (GET /chatmessages/{hour}) hxim migrate-from-easemob "
        "asks the source for a minute at most (Easemob allows 10); 0 = no pacing"
    )
    rate_limits: dict[str, float] = Field(
        default_factory=dict,
        description="Requests per second per app, API family and caller (the app's admin, each user, each "
        "address for calls without a token); absent or 0 = no limit",
    )

    @model_validator(mode="after")
    def _metrics_token_set(self) -> Settings:
        if self.metrics_access == "token" and not self.metrics_token:
            raise ValueError("metrics_access is token, so metrics_token must be set too")
        return self

    @model_validator(mode="after")
    def _cluster_shares_postgresql(self) -> Settings:
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
        if (self.redis_url or self.workers > 1) and not self.database_url.startswith(("postgresql", "postgres://")):
            what = "redis_url is set" if self.redis_url else "workers is above 1"
            raise ValueError(
                f"{what}, so database_url must name PostgreSQL: nodes of a cluster share one database, "
                "and a SQLite file cannot be shared"
            )
        if self.workers > 1 and self.node_number is not None:
            raise ValueError("workers is above 1, so node_number must be left unset: each worker leases its own")
        if self.workers > 1 and not self.redis_url:
            raise ValueError("workers is above 1, so redis_url must be set: the worker processes route through Redis")
        return self

    @property
    def clustered(self) -> bool:
        return bool(self.redis_url)

    @property
    def xmpp_tcp_listens(self) -> bool:
        """Whether the node listens for XMPP over TCP: with a certificate, or plain text allowed."""
        return self.xmpp_enabled and bool(self.xmpp_tls_cert or self.xmpp_allow_plaintext)

    @model_validator(mode="after")
    def _upstream_complete(self) -> Settings:
        if self.upstream_base_url:
            if not self.upstream_base_url.startswith(("http://", "https://")):
                raise ValueError("upstream_base_url must be an http:// or https:// URL")
            missing = [
                name
                for name in ("upstream_org", "upstream_app", "upstream_client_id", "upstream_client_secret")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"upstream_base_url is set, so {', '.join(missing)} must be set too")
        return self

    @field_validator("rate_limits")
    @classmethod
    def _known_families(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(RATE_FAMILIES)
        if unknown:
            raise ValueError(f"unknown rate-limit families {sorted(unknown)}; known: {RATE_FAMILIES}")
        if any(v < 0 for v in value.values()):
            raise ValueError("rate limits must be >= 0")
        return value

    @field_validator("user_metadata_field_max_lengths")
    @classmethod
    def _positive_lengths(cls, value: dict[str, int]) -> dict[str, int]:
        if any(v < 1 for v in value.values()):
            raise ValueError("user attribute lengths must be >= 1")
        return value

    @field_validator("history_file_timezone", "push_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as UTC or Asia/Shanghai)") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        if value == ["*"]:
            return value
        proxies = []
        for entry in value:
            try:
                parsed = ipaddress.ip_network(entry, strict=False) if "/" in entry else ipaddress.ip_address(entry)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an address or a network (such as 10.0.0.5 or 10.0.0.0/8), and not * alone"
                ) from None
            proxies.append(str(parsed))
        return proxies

    @field_validator("admin_allow_from")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an address or a network (such as 10.0.0.0/8 or ::1/128)") from None
        return value

    @field_validator("xmpp_tcp_mechanisms", "xmpp_ws_mechanisms")
    @classmethod
    def _known_mechanisms(cls, value: list[str]) -> list[str]:
        known = ("PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256")
        if not value or any(m not in known for m in value) or len(set(value)) != len(value):
            raise ValueError(f"SASL mechanisms must be a non-empty list of distinct names from {known}")
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        loading = _loading.get()
        if loading is None:  # Settings() built directly (tests, benchmarks): HXIM_CONFIG or ./hxim.toml
            toml_path = os.environ.get("HXIM_CONFIG") or CONFIG_FILE
            return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (
            init_settings,
            _EnvSource(settings_cls, loading),
            InitSettingsSource(settings_cls, loading.file_data),
        )

    @cached_property
    def data_location(self) -> tuple[Path, str]:
        """The data directory and why it is that one (see `locate_data_dir`)."""
        return locate_data_dir(self.data_dir)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            return url
        return f"sqlite:///{self.data_location[0] / 'hxim.sqlite3'}"

    def rate_limit(self, family: str) -> float:
        return self.rate_limits.get(family, 0.0)


# --- the data directory ------------------------------------------------------------------------


def locate_data_dir(configured: Path | None) -> tuple[Path, str]:
    """The data directory, absolute, and why it is that one, in words for the start-up line.

    Set (`data_dir`): that. Unset: `./hxim-data` when the current directory has one (where
    hxim kept its data before it had a default of its own), else systemd's `StateDirectory`
    (`$STATE_DIRECTORY`, `/var/lib/hxim` with deploy/hxim.service), else the user's data
    directory (`$XDG_DATA_HOME/hxim`, by default `~/.local/share/hxim`).
    """
    if configured is not None:
        return configured.expanduser().resolve(), "set by data_dir"
    if LEGACY_DATA_DIR.is_dir():
        return LEGACY_DATA_DIR.resolve(), (
            "./hxim-data, found in the current directory; set data_dir to keep it when starting elsewhere"
        )
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state).resolve(), "systemd's StateDirectory"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(base) / "hxim").resolve(), "the default for a user"


# --- loading, with every problem in plain words -----------------------------------------------


class ConfigError(Exception):
    """Settings that cannot be used: one plain line per problem, each naming where the value
    came from (`HXIM_HTTP_PORT: "abc" is not an integer`, `unknown key "prot" in hxim.toml`)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Origins:
    """Where the values of one load came from: command-line options, HXIM_* variables, a file."""

    file: Path | None
    file_keys: frozenset[str]
    options: dict[str, str]  # setting -> the option that set it
    unread: frozenset[str] = frozenset()  # settings whose HXIM_* variable could not be read

    def of(self, name: str) -> str:
        """The place a message names for setting `name`: `--port`, `HXIM_HTTP_PORT`, `http_port in hxim.toml`."""
        if name in self.options:
            return self.options[name]
        variable = environment_variable(name)
        if variable is not None and name not in self.unread:
            return variable
        if name in self.file_keys:
            return f"{name} in {self.file}"
        return name


@dataclass
class _Loading:
    file_data: dict[str, Any]
    problems: list[str]
    unread: set[str]


_loading: ContextVar[_Loading | None] = ContextVar("hxim_settings_loading", default=None)


class _EnvSource(EnvSettingsSource):
    """HXIM_* variables; a list or table that is not JSON becomes a problem, and the load goes on
    to find the others."""

    def __init__(self, settings_cls: type[BaseSettings], loading: _Loading) -> None:
        super().__init__(settings_cls)
        self.loading = loading

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except ValueError:
            self.loading.unread.add(field_name)
            self.loading.problems.append(
                f"{environment_variable(field_name) or field_name}: {_shown(value)} is not JSON (lists and tables "
                'are written as JSON, e.g. ["PLAIN"] or {"users": 30})'
            )
            return None


def read_settings(
    config_file: str | None = None, options: dict[str, tuple[str, Any]] | None = None
) -> tuple[Settings, Origins]:
    """Load the settings: `options` (setting -> (option, value), from the command line) over
    HXIM_* variables over the config file over the defaults.

    The config file is `config_file` (which must exist), else the one `HXIM_CONFIG` names, else
    `./hxim.toml`; those two are read only when they exist (scripts point HXIM_CONFIG at a
    missing file to read none). Raises `ConfigError` naming every bad key and value.
    """
    options = options or {}
    path = _config_path(config_file)
    data = _read_toml(path) if path is not None else {}
    loading = _Loading(data, [], set())
    token = _loading.set(loading)
    try:
        settings = Settings(**{name: value for name, (_, value) in options.items()})
    except ValidationError as exc:
        origins = _origins(path, data, options, loading)
        raise ConfigError(loading.problems + [_problem(e, origins) for e in exc.errors()]) from None
    finally:
        _loading.reset(token)
    if loading.problems:
        raise ConfigError(loading.problems)
    return settings, _origins(path, data, options, loading)


def _origins(
    path: Path | None, data: dict[str, Any], options: dict[str, tuple[str, Any]], loading: _Loading
) -> Origins:
    return Origins(path, frozenset(data), {name: opt for name, (opt, _) in options.items()}, frozenset(loading.unread))


def _config_path(named: str | None) -> Path | None:
    if named is not None:
        path = Path(named).expanduser()
        if not path.exists():
            raise ConfigError([f"config file {named} not found"])
        return path
    path = Path(os.environ.get("HXIM_CONFIG") or CONFIG_FILE).expanduser()
    return path if path.exists() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        raise ConfigError([f"{path} is not valid TOML: {text[:1].lower()}{text[1:]}"]) from None
    except OSError as exc:
        raise ConfigError([f"cannot read config file {path}: {(exc.strerror or str(exc)).lower()}"]) from None


def environment_variable(name: str) -> str | None:
    """The HXIM_* variable set for setting `name` (or for one of its keys, `HXIM_RATE_LIMITS__USERS`)."""
    exact = f"HXIM_{name.upper()}"
    for variable in os.environ:
        upper = variable.upper()
        if upper == exact or upper.startswith(exact + "__"):
            return variable
    return None


def unknown_variables() -> list[str]:
    """HXIM_* variables that name no setting (and are not HXIM_CONFIG or HXIM_DEBUG), with a
    guess at the one meant."""
    out = []
    for variable in sorted(os.environ):
        upper = variable.upper()
        if not upper.startswith("HXIM_") or upper in ("HXIM_CONFIG", "HXIM_DEBUG") or upper.startswith("HXIM_TEST_"):
            continue
        name = upper[len("HXIM_") :].split("__")[0].lower()
        if name not in Settings.model_fields:
            out.append(f"{variable} is not a setting (ignored){_did_you_mean(name, 'HXIM_')}")
    return out


def _did_you_mean(name: str, prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(Settings.model_fields), n=1)
    return f' (did you mean "{prefix}{close[0].upper() if prefix else close[0]}"?)' if close else ""


def _problem(err: Any, origins: Origins) -> str:
    loc = err["loc"]
    if not loc:  # a rule across settings (the upstream ones)
        return _without_prefix(err["msg"])
    name = str(loc[0])
    if err["type"] == "extra_forbidden":
        where = f" in {origins.file}" if name in origins.file_keys else ""
        return f'unknown key "{name}"{where}{_did_you_mean(name)}'
    where = origins.of(name)
    if len(loc) > 1:
        dotted = ".".join(str(part) for part in loc)
        where = where.replace(name, dotted, 1) if where.startswith(name) else f"{where} ({dotted})"
    return f"{where}: {_what(err, name)}"


def _what(err: Any, name: str) -> str:
    value = _shown(err.get("input"))
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{value} is not an integer"
    if kind in ("float_parsing", "float_type"):
        return f"{value} is not a number"
    if kind in ("bool_parsing", "bool_type"):
        return f"{value} is not true or false"
    if kind in ("string_type", "path_type"):
        return f"{value} is not a string"
    if kind == "list_type":
        return f"{value} is not a list"
    if kind == "dict_type":
        return f"{value} is not a table"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        field = Settings.model_fields.get(name)
        bounds = _bounds(field.metadata if field is not None and len(err["loc"]) == 1 else [], ctx)
        return f"{value} is out of range ({bounds})"
    if kind == "string_too_short":
        return f"{value} is too short (at least {_characters(ctx.get('min_length'))})"
    if kind == "string_too_long":
        return f"{value} is too long (at most {_characters(ctx.get('max_length'))})"
    if kind == "string_pattern_mismatch":
        choices = re.fullmatch(r"\^\(([\w|]+)\)\$", str(ctx.get("pattern", "")))
        if choices:
            return f"{value} is not one of {', '.join(choices.group(1).split('|'))}"
        return f"{value} does not match {ctx.get('pattern')}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return f"{value}: {_without_prefix(err['msg'])}"


def _bounds(metadata: list[Any], ctx: dict[str, Any]) -> str:
    keys = ("ge", "gt", "le", "lt")
    found = {key: getattr(item, key) for item in metadata for key in keys if getattr(item, key, None) is not None}
    found = found or {k: v for k, v in ctx.items() if k in keys}
    if "ge" in found and "le" in found:
        return f"{found['ge']} to {found['le']}"
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    return ", ".join(f"{words[k]} {v}" for k, v in found.items())


def _characters(n: Any) -> str:
    return f"{n} character{'' if n == 1 else 's'}"


def _without_prefix(msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# --- showing settings -------------------------------------------------------------------------


def changed_settings(settings: Settings) -> list[tuple[str, str]]:
    """The settings that differ from their defaults, as `(name, value)` in TOML's notation,
    secrets masked (the settings marked secret, and passwords in URLs)."""
    out = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value == field.get_default(call_default_factory=True):
            continue
        secret = isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
        out.append((name, '"********"' if secret else _toml_value(value)))
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(_URL_PASSWORD.sub(r"\1********@", str(value)), ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


_URL_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")
