"""The schema, as SQLAlchemy Core tables. Alembic migrations under `migrations/` create it.

Users are keyed inside the database by an integer id; the UUID and the case-folded username
are the external keys. Everything that hangs on a user (contacts, blocks, offline entries)
is removed with the user by ON DELETE CASCADE.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

__all__ = [
    "metadata",
    "apps",
    "server_keys",
    "admins",
    "users",
    "contacts",
    "blocks",
    "contact_requests",
    "messages",
    "offline",
    "notices",
    "chatfiles",
    "rooms",
    "room_members",
    "room_blocks",
    "room_mutes",
    "room_whitelist",
    "room_super_admins",
    "room_applications",
    "room_files",
    "room_member_attributes",
    "room_attributes",
    "room_member_tags",
    "room_threads",
    "app_users",
    "app_group_faces",
    "user_metadata",
    "presence_subscriptions",
    "presence_status",
    "user_mutes",
    "user_collections",
    "broadcasts",
    "stream_messages",
    "message_reactions",
    "moderation_lists",
    "moderation_words",
    "callback_rules",
    "callback_version",
    "callback_outbox",
    "push_bindings",
    "push_settings",
    "push_preferences",
    "push_templates",
    "push_counts",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# An integer that autoincrements on SQLite (INTEGER PRIMARY KEY) and is 64-bit elsewhere.
RowId = BigInteger().with_variant(Integer(), "sqlite")

apps = Table(
    "apps",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("org", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("secret_hash", String(128), nullable=False),  # "sha256$" + hex of the client secret
    Column("token_epoch", Integer, nullable=False, server_default="0"),
    Column("open_registration", Boolean, nullable=False, server_default="0"),
    Column("created", BigInteger, nullable=False),
    UniqueConstraint("org", "name"),
)

server_keys = Table(
    "server_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

# Administrators of the admin console (/admin), set with `hxim admin`: server-wide, no app's.
admins = Table(
    "admins",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(128), nullable=False),  # bcrypt
    Column("session_epoch", Integer, nullable=False, server_default="0"),  # moved: every session ends
    Column("created", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("username", String(255), nullable=False),
    Column("username_key", String(255), nullable=False),
    Column("nickname", String(1024)),
    Column("activated", Boolean, nullable=False, server_default="1"),
    Column("created", BigInteger, nullable=False),
    Column("modified", BigInteger, nullable=False),
    Column("token_epoch", Integer, nullable=False, server_default="0"),
    Column("profile", Text, nullable=False, server_default="{}"),
    Column("scram_salt", LargeBinary, nullable=False),
    Column("scram_iterations", Integer, nullable=False),
    Column("sha1_stored_key", LargeBinary, nullable=False),
    Column("sha1_server_key", LargeBinary, nullable=False),
    Column("sha256_stored_key", LargeBinary, nullable=False),
    Column("sha256_server_key", LargeBinary, nullable=False),
    UniqueConstraint("app_uuid", "username_key"),
    Index(None, "app_uuid", "created", "id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("owner_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created", BigInteger, nullable=False),
    Column("remark", Text, nullable=True),  # the owner's note on this contact (null: none)
    Index(None, "contact_id"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("owner_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created", BigInteger, nullable=False),
    Index(None, "blocked_id"),
)

# Addresses a user blocks that name no user of their app (XEP-0191 lets a client block any JID:
# another server's users, a user not registered here), as the client wrote them, normalised.
jid_blocks = Table(
    "jid_blocks",
    metadata,
    Column("owner_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("jid", String(1024), primary_key=True),
    Column("created", BigInteger, nullable=False),
)

# Friend requests still unanswered (RFC 6121 §3.1 `subscribe` sent, not yet `subscribed` or
# `unsubscribed`): the requester's roster shows the item with `ask='subscribe'` meanwhile, and a
# `subscribed` from the target is an answer only while its request is here.
contact_requests = Table(
    "contact_requests",
    metadata,
    Column("owner_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("target_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created", BigInteger, nullable=False),
    Index(None, "target_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("chat_type", String(16), nullable=False),
    Column("sender", String(255), nullable=False),
    Column("recipient", String(255), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Index(None, "app_uuid", "timestamp", "id"),
    # one conversation, newest first: message roaming (webim-xmpp.md §2.6) reads the messages to
    # a group, or to each side of a 1:1 chat, backwards by id
    Index(None, "app_uuid", "recipient", "id"),
)
# what a user sent, newest first, whatever case REST `from` wrote the name in: the conversation
# list of the Web SDK 4.x (the peers a user wrote to)
Index("ix_messages_app_uuid_sender_key_id", messages.c.app_uuid, func.lower(messages.c.sender), messages.c.id)

# One row per (recipient, message) still to deliver. Kept lean because a group message writes
# one row per offline member: a single B-tree on SQLite (WITHOUT ROWID), no index on
# message_id and no foreign key to messages (offline rows are removed by user, on delivery or
# with the user).
offline = Table(
    "offline",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("message_id", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

# What a user no longer reads back of their conversations (message roaming), the others being
# unaffected: messages deleted one by one, and conversations cleared up to a time (`until`, ms;
# conversation "chat:{peer key}", "room:{id}", or "*" for every conversation of the user).
roaming_deleted = Table(
    "roaming_deleted",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("message_id", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)
roaming_cuts = Table(
    "roaming_cuts",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("conversation", String(300), primary_key=True),
    Column("until", BigInteger, nullable=False),
)

# Stanzas other than messages kept for a user with no available session (friend requests,
# room invitations and notices, webim-xmpp.md §9(d).4): `kind` says which, `payload` is the JSON
# the XMPP side renders them from (each client writes JIDs its own way). Removed once replayed.
notices = Table(
    "notices",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("sender", String(255), nullable=False),
    Column("payload", Text, nullable=False),
    sqlite_with_rowid=False,
)

chatfiles = Table(
    "chatfiles",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("uploader", String(255)),
    Column("filename", String(1024), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("share_secret", String(128)),
    Column("created", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    # its lifetime (Easemob's message_attachment_storage): kept for ever, or until
    # `chatfile_lifetime_seconds` after `refreshed` (null: after `created`)
    Column("forever", Boolean, nullable=False, server_default="0"),
    Column("refreshed", BigInteger),
)

# --- groups and chat rooms (one membership model; `kind` is "group" or "chatroom") -------------
# A room's id comes from the IdGenerator (numeric, time-ordered). The owner is also a row of
# room_members (role "owner"), so membership, counts and fan-out read one table. Everything
# that hangs on a room goes with it (ON DELETE CASCADE); a deleted user leaves every room,
# and the rooms they own are deleted with them.

rooms = Table(
    "rooms",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("name", String(1024), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("public", Boolean, nullable=False, server_default="1"),
    Column("membersonly", Boolean, nullable=False, server_default="0"),
    Column("allowinvites", Boolean, nullable=False, server_default="0"),
    Column("invite_need_confirm", Boolean, nullable=False, server_default="1"),
    Column("maxusers", Integer, nullable=False),
    Column("custom", Text, nullable=False, server_default=""),
    Column("mute_until", BigInteger, nullable=False, server_default="0"),  # mute-all; 0 = off
    Column("members_version", Integer, nullable=False, server_default="0"),  # bumped by member/role changes
    Column("disabled", Boolean, nullable=False, server_default="0"),  # a disabled group refuses messages
    Column("announcement", Text, nullable=False, server_default=""),
    Column("owner_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("modified", BigInteger, nullable=False),
    Index(None, "app_uuid", "kind", "id"),
    Index(None, "owner_id"),
)

room_members = Table(
    "room_members",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), nullable=False),  # owner | admin | member
    Column("joined", BigInteger, nullable=False),
    Index(None, "user_id", "room_id"),
)

room_blocks = Table(
    "room_blocks",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created", BigInteger, nullable=False),
    Index(None, "user_id"),
)

# Pending requests to join a group that needs approval (webim-xmpp.md §2.7 `apply`, §7.7), until
# an owner or admin answers them (`apply_verify`); one per (group, user), the latest reason kept.
room_applications = Table(
    "room_applications",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    Index(None, "user_id"),
)

room_mutes = Table(
    "room_mutes",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("expire", BigInteger, nullable=False),  # ms; 4638873600000 = for ever
    Index(None, "user_id"),
)

room_whitelist = Table(
    "room_whitelist",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created", BigInteger, nullable=False),
    Index(None, "user_id"),
)

room_super_admins = Table(
    "room_super_admins",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("created", BigInteger, nullable=False),
    Index(None, "app_uuid", "created"),
)

# A group's shared files: chat files (the `chatfiles` store, its access rules) listed in a group,
# with who uploaded them; a file deleted from the store leaves the group too.
room_files = Table(
    "room_files",
    metadata,
    Column("file_uuid", String(36), ForeignKey("chatfiles.uuid", ondelete="CASCADE"), primary_key=True),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("owner", String(255), nullable=False),  # the uploader's username ("admin": the app)
    Column("created", BigInteger, nullable=False),
    Index(None, "room_id", "created"),
)

# A group member's attributes (Easemob's group_member_attribute_* pages): name -> value; they go
# when the member leaves.
room_member_attributes = Table(
    "room_member_attributes",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "user_id"),
)

# A chat room's attributes (chatroom_custom_attribute_*): name -> value, each owned by the member
# who set it (only they change it, unless forced); `auto_delete`: removed when that member leaves.
room_attributes = Table(
    "room_attributes",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("owner_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("auto_delete", Boolean, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Index(None, "owner_id"),
)

# A chat-room member's tags (chatroom_user_tag_*): `expire` is when a mute by the tag ends (ms;
# -1 for ever, 0 never muted by it); they go when the member leaves.
room_member_tags = Table(
    "room_member_tags",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(255), primary_key=True),
    Column("expire", BigInteger, nullable=False, server_default="0"),
    Index(None, "room_id", "tag"),
    Index(None, "user_id"),
)

# A thread (Easemob's "子区"): a room of kind "thread" (its name, owner, members in room_members),
# started from message `msg_id` of group `parent_id`, one thread per message. Deleting a group
# deletes its threads (`storage.groups.delete_rooms_txn`); the link goes with either room.
room_threads = Table(
    "room_threads",
    metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("msg_id", BigInteger, nullable=False),
    UniqueConstraint("msg_id"),
    Index(None, "parent_id", "room_id"),
)

# --- the app API (/api/v2/easemob): the app's own accounts and its group faces -------------
# An app user is the app's account with a numeric id (its IM username is that id as a string);
# `password_hash` is bcrypt (null: no password). JSON profile fields are stored as JSON text.

app_users = Table(
    "app_users",
    metadata,
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("password_hash", String(128)),
    Column("name", String(255)),
    Column("bio", Text),
    Column("sex", Integer, nullable=False, server_default="0"),
    Column("location", String(255)),
    Column("avatar", Text),
    Column("bg", Text),
    Column("verified", Text),
    Column("extra", Text),
    Column("certification", Text),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

app_group_faces = Table(
    "app_group_faces",
    metadata,
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("face", String(2048), nullable=False),  # a chat-file UUID or an http(s) URL
    Column("updated_at", BigInteger, nullable=False),
)

# --- user attributes (Easemob's /metadata/user/…): a user's key-value pairs, gone with the user ---
# `size` is the UTF-8 length of key and value together: the limits (per user, per app) and the
# app's capacity are sums of it.

user_metadata = Table(
    "user_metadata",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("value", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Index(None, "app_uuid", "size"),
)

# Easemob presence (the presence_* REST pages): who follows whose presence until when (`expiry`,
# milliseconds; an expired row is ignored and removed by the next write that meets it), and the
# status and custom text set over REST for one device (`resource`) of a user, `updated` in
# milliseconds. Both go with their users.

presence_subscriptions = Table(
    "presence_subscriptions",
    metadata,
    Column("subscriber_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("target_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("expiry", BigInteger, nullable=False),
    Index(None, "target_id", "expiry"),
)

presence_status = Table(
    "presence_status",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("resource", String(255), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("status", String(64), nullable=False),
    Column("ext", Text, nullable=False),
    Column("updated", BigInteger, nullable=False),
)

# --- global mutes (Easemob's user_global_mute_* pages): a user's sends refused per chat type ----
# One row per (user, chat type) muted: `expire` in ms, or -1 for ever; unmuting removes the row.

user_mutes = Table(
    "user_mutes",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("chat_type", String(16), primary_key=True),  # chat | groupchat | chatroom
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("expire", BigInteger, nullable=False),
    Index(None, "app_uuid", "user_id"),
)

# --- user collections (Easemob's user_collection_* pages): each user's saved items ---------------
# `id` is the client's (or a random UUID), unique per user; pages run in (created, id) order.

user_collections = Table(
    "user_collections",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("type", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("ext", Text),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Index(None, "user_id", "created", "id"),
)

# --- broadcasts and stream messages (Easemob's broadcast_to_* and message_stream_send_* pages) ---

# A broadcast is a job the node works through in batches of targets: its message (`message`: JSON
# of `from`, `bodies`, `ext`), the kind of targets (`users`, `online_users`, `chatrooms`), and how far
# it got: `cursor`, the position after the last target done in the order the kind reads them
# ("" before the first), `done` targets passed and `sent` messages stored of `total` counted at
# the start. A batch's messages and its move of the cursor are one transaction, so a node that
# stops mid-way (even killed) resumes at the cursor, with nothing sent twice and nothing lost.
broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("cursor", String(128), nullable=False, server_default=""),
    Column("total", BigInteger, nullable=False),
    Column("done", BigInteger, nullable=False, server_default="0"),
    Column("sent", BigInteger, nullable=False, server_default="0"),
    Column("state", String(16), nullable=False),  # running | finished
    Column("created", BigInteger, nullable=False),
    Column("ended", BigInteger, nullable=True),
    Index(None, "app_uuid", "kind", "created"),
    Index(None, "state"),
)

# A stream message while its chunks arrive: the stored message (`messages`, same id) holds the
# text so far; this row what the next chunk is checked against (who sends it to whom, the last
# `seq`, the bytes so far, when it started and when the last chunk came) and whether it ended.
stream_messages = Table(
    "stream_messages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("chat_type", String(16), nullable=False),
    Column("sender", String(255), nullable=False),
    Column("recipient", String(255), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("length", Integer, nullable=False),
    Column("started", BigInteger, nullable=False),
    Column("last", BigInteger, nullable=False),
    Column("finished", Boolean, nullable=False, server_default="0"),
    Index(None, "app_uuid", "last"),
)

# --- message reactions (Easemob's reaction_* pages) ------------------------------------------------
# One row per (message, reaction, user who added it). `reaction_id` is the reaction's on that
# message (every row of one (message, reaction) has the same), `id` the row's own, growing with
# time: the detail pages run in `id` order. Rows go with their message (recall) and their user.

message_reactions = Table(
    "message_reactions",
    metadata,
    Column("message_id", BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("reaction", String(128), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("reaction_id", BigInteger, nullable=False),
    Column("id", BigInteger, nullable=False),
    Column("created", BigInteger, nullable=False),
    Index(None, "message_id", "reaction", "id"),
    Index(None, "user_id"),
)

# --- text moderation (Easemob's keyword_* pages) ---------------------------------------------------
# Keyword lists of an app (`name` unique in it) and their words (unique in their list). A list's
# `scope` (ALL, CHAT, GROUP, ROOM, TAG) says which messages it screens and `disposition` (PASS,
# REJECT, EXCHANGE) what becomes of one that matches; `status` ACTIVE or CLOSE.

moderation_lists = Table(
    "moderation_lists",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("tag_id", String(128)),
    Column("disposition", String(16), nullable=False),
    Column("full_match", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("creator", String(255)),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    UniqueConstraint("app_uuid", "name"),
)

moderation_words = Table(
    "moderation_words",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("list_id", String(32), ForeignKey("moderation_lists.id", ondelete="CASCADE"), nullable=False),
    Column("word", String(1024), nullable=False),
    Column("creator", String(255)),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    UniqueConstraint("list_id", "word"),
)

# Callbacks (docs/callbacks.md): an app's rules, the version a node compares to know they changed,
# and the post-send callbacks still to deliver (or kept as failed), written in the transaction of
# what caused them. `secret` is sealed with the server key `callback-secret` (services/callbacks).
callback_rules = Table(
    "callback_rules",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # post | pre
    Column("url", Text, nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("events", Text, nullable=False),  # comma-separated; empty: every event of the kind
    Column("chat_types", Text, nullable=False),  # comma-separated; empty: every chat type
    Column("msg_types", Text, nullable=False),  # comma-separated; empty: every message type
    Column("on_failure", String(8), nullable=False),  # pass | reject (pre-send)
    Column("timeout_ms", Integer, nullable=False),
    Column("created", BigInteger, nullable=False),
    UniqueConstraint("app_uuid", "name"),
)

callback_version = Table(
    "callback_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the one row: 1
    Column("version", BigInteger, nullable=False),
)

callback_outbox = Table(
    "callback_outbox",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("rule_id", RowId, ForeignKey("callback_rules.id", ondelete="CASCADE"), nullable=False),
    Column("call_id", String(128), nullable=False),
    Column("stamp", BigInteger, nullable=False),  # the body's `timestamp`, signed with the callId
    Column("body", Text, nullable=False),  # the JSON body but its securityVersion and security
    Column("created", BigInteger, nullable=False),
    Column("due", BigInteger, nullable=False),  # next try (ms); also a lease while one is in flight
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("state", String(8), nullable=False),  # pending | failed
    Column("retries", Integer, nullable=False, server_default="0"),  # replays asked for (storage/retry)
    Column("target_url", Text, nullable=True),  # a replay's other URL
    Column("error", String(255), nullable=True),  # why the last try failed
    Index(None, "rule_id", "state", "due"),
    # failed rows only (listed, replayed, purged by date): a pending row, written and deleted with
    # every callback, has one index less to keep
    Index(
        None, "state", "created",
        sqlite_where=text("state = 'failed'"), postgresql_where=text("state = 'failed'"),
    ),
)

# --- offline push (Easemob's push_* pages, docs/push.md) -------------------------------------------
# A user's device bindings (device id, certificate name, device token; one user per device id in
# an app), notification settings per conversation (`chat_type` user or chatgroup, `target` the peer's
# case-folded username or the group id; the user-wide row is ("user", their own username)), the
# preferred language and template of each user, the app's templates and the hourly counts of the
# pushes handed to the provider. Everything of a user goes with the user.

push_bindings = Table(
    "push_bindings",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("device_id", String(255), primary_key=True),
    Column("notifier_name", String(255), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("device_token", Text, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Index(None, "app_uuid", "device_id"),
)

push_settings = Table(
    "push_settings",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("chat_type", String(16), primary_key=True),  # user | chatgroup
    Column("target", String(255), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("type", String(8), nullable=True),  # DEFAULT | ALL | AT | NONE; null: never set
    Column("ignore_interval", String(16), nullable=False),  # HH:MM-HH:MM, or ""
    Column("ignore_until", BigInteger, nullable=False),  # ms; 0: none
)

push_preferences = Table(
    "push_preferences",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), nullable=False),
    Column("language", String(255), nullable=False),  # "" none
    Column("template", String(255), nullable=False),  # "" none
)

push_templates = Table(
    "push_templates",
    metadata,
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("title_pattern", Text, nullable=False),
    Column("content_pattern", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
)

push_counts = Table(
    "push_counts",
    metadata,
    Column("app_uuid", String(36), ForeignKey("apps.uuid", ondelete="CASCADE"), primary_key=True),
    Column("hour", BigInteger, primary_key=True),  # ms of the hour's start
    Column("attempted", BigInteger, nullable=False),
    Column("succeeded", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
)
