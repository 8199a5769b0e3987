"""The composition root: builds storage, the hub and the services of one node.

Only this module and `cli.py` choose concrete backends. Surfaces receive a `Node` and call
its services.
"""

from __future__ import annotations

import logging
import secrets

from hxim.config import Settings
from hxim.counters import Counters
from hxim.hub import MemoryRegistry, Router
from hxim.hub.cluster import ClusterRouter, default_node_name
from hxim.model import App, IdGenerator
from hxim.ratelimit import RateLimiter, SharedRateLimiter
from hxim.services.admins import AdminService
from hxim.services.app_export import AppExportService
from hxim.services.app_users import AppUserService
from hxim.services.apps import AppService
from hxim.services.blocks import BlockIndex
from hxim.services.broadcasts import BroadcastService
from hxim.services.callback_delivery import CallbackDelivery
from hxim.services.callback_sender import DeliveryProcess
from hxim.services.callbacks import CallbackService
from hxim.services.collections import CollectionService
from hxim.services.contacts import ContactService
from hxim.services.easemob_migration import EasemobMigration
from hxim.services.files import FileService
from hxim.services.login_throttle import LoginThrottle
from hxim.services.message_import import ImportService
from hxim.services.messages import MessageService
from hxim.services.moderation import ModerationService
from hxim.services.mutes import GlobalMuteService
from hxim.services.notices import NoticeService
from hxim.services.passwords import Hasher
from hxim.services.presence import PresenceService
from hxim.services.presence_subscriptions import PresenceSubscriptions
from hxim.services.push import PushService
from hxim.services.push_settings import PushSettings
from hxim.services.reactions import ReactionService
from hxim.services.readiness import Readiness
from hxim.services.room_common import CHATROOM, GROUP
from hxim.services.room_notices import RoomNotifier
from hxim.services.rooms import RoomServices
from hxim.services.stream_messages import StreamService
from hxim.services.threads import ThreadService
from hxim.services.tokens import TokenService
from hxim.services.translation import TranslationService
from hxim.services.user_metadata import UserMetadataService
from hxim.services.users import UserService
from hxim.storage import Database
from hxim.storage.apps import server_key_txn
from hxim.storage.database import DatabaseUnavailable

__all__ = ["DatabaseUnavailable", "Node", "NoDatabase"]

log = logging.getLogger("hxim")


class NoDatabase(Exception):
    """There is no hxim database where the settings point, and the caller asked not to make one."""

    def __init__(self, location: str, is_file: bool) -> None:
        super().__init__(f"no hxim database at {location}")
        self.location = location
        self.is_file = is_file  # a SQLite file (else a server's database)


class Node:
    """Everything one hxim process serves with."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            connect_timeout_seconds=settings.db_connect_timeout_seconds,
            sqlite_synchronous=settings.sqlite_synchronous,
            sqlite_checkpoint_seconds=settings.sqlite_checkpoint_seconds,
            sqlite_checkpoint_pause_seconds=settings.sqlite_checkpoint_pause_ms / 1000,
            sqlite_commit_interval_seconds=settings.sqlite_commit_interval_ms / 1000,
        )
        self.ids = IdGenerator(settings.node_number or 0)
        self.counters = Counters()  # what the node counts as it serves, read by /metrics
        # GET /ready: the checks that must answer for the node to be ready
        self.readiness = Readiness(settings.ready_timeout_seconds)
        self.readiness.add("database", lambda: self.db.ping(settings.ready_timeout_seconds))
        # the hub: events and stored messages to sessions (of this node, or of a cluster's nodes)
        self.cluster: ClusterRouter | None = None
        if settings.clustered:
            self.cluster = ClusterRouter(
                settings.node_id or default_node_name(),
                settings.redis_url,
                heartbeat_seconds=settings.cluster_heartbeat_seconds,
                timeout_seconds=settings.cluster_node_timeout_seconds,
                name=settings.cluster_name,
            )
            self.router: Router = self.cluster
            self.readiness.add("redis", self.cluster.ping)
        else:
            self.router = Router(MemoryRegistry())
        # callbacks (pre-send and post-send webhooks): rules loaded by open(), delivered by a job
        self.callbacks = CallbackService(self.db, settings, self.ids)
        # post-send callbacks delivered by a child process with its own connection, or on this loop
        self.callback_delivery: CallbackDelivery | DeliveryProcess = (
            DeliveryProcess(self.db, settings, self.callbacks) if settings.callback_sender == "process"
            else CallbackDelivery(self.db, settings, self.callbacks)
        )
        self.router.session_hooks.append(self.callbacks.session)
        self.hasher = Hasher(settings.scram_iterations, settings.password_hash_threads)
        self.limiter = (
            SharedRateLimiter(settings.rate_limits, settings.redis_url, settings.cluster_name)
            if settings.clustered and any(settings.rate_limits.values())
            else RateLimiter(settings.rate_limits)
        )
        self.apps = AppService(self.db, settings.app_cache_seconds)
        self.users = UserService(self.db, settings, self.hasher, self.router)
        self.logins = LoginThrottle(settings)  # failed password checks, per account and address
        self.admins = AdminService(self.db, settings, self.logins)  # the admin console's administrators
        self.blocks = BlockIndex(self.db)
        self.presence = PresenceService(self.router, self.blocks)
        self.notices = NoticeService(self.db, self.ids, self.router)
        self.contacts = ContactService(
            self.db, settings, self.users, self.router, self.blocks, self.presence, self.notices, self.callbacks
        )
        self.files = FileService(self.db, settings)
        self.app_users = AppUserService(self.db, settings)  # the /api/v2/easemob app API's accounts
        self.user_metadata = UserMetadataService(self.db, settings)  # user attributes (/metadata/user/…)
        self.collections = CollectionService(self.db, settings, self.users)  # user collections
        notifier = RoomNotifier(self.users, self.notices, self.router, self.callbacks)
        self.groups = RoomServices.build(self.db, settings, self.ids, notifier, GROUP, self.files)
        self.chatrooms = RoomServices.build(self.db, settings, self.ids, notifier, CHATROOM, self.files)
        self.users.delete_hooks.append(self.groups.rooms.delete_owned)  # owned groups and chat rooms go too
        self.threads = ThreadService(self.db, settings, self.ids, self.router)  # threads of groups
        # Easemob presence: statuses set over REST, subscriptions, told of sessions coming and going
        self.presence_subscriptions = PresenceSubscriptions(
            self.db, settings, self.router, self.presence, self.groups.rooms
        )
        self.presence.device_hooks.append(self.presence_subscriptions.device_changed)
        self.users.delete_hooks.append(self.presence_subscriptions.forget)
        self.mutes = GlobalMuteService(self.db, settings)  # global mutes, asked by every send
        self.users.delete_hooks.append(self.mutes.forget_users)
        self.moderation = ModerationService(self.db, settings, self.ids)  # keyword lists, asked by every send
        self.push_settings = PushSettings(self.db, settings, self.users)  # what users ask of offline pushes
        self.push = PushService(self.db, settings)  # offline pushes to the operator's gateway (push_url), if any
        self.messages = MessageService(
            self.db, settings, self.ids, self.users, self.router, self.blocks, self.notices, self.groups.rooms,
            self.chatrooms.rooms, self.mutes, self.moderation, self.callbacks, self.counters, self.push,
        )
        # broadcasts run as jobs: `start_jobs` (on the serving loop) resumes the unfinished ones
        self.broadcasts = BroadcastService(
            self.db, settings, self.ids, self.messages, self.chatrooms.rooms, self.router
        )
        self.streams = StreamService(self.db, settings, self.messages, self.router)  # stream messages
        self.imports = ImportService(
            self.db, settings, self.ids, self.messages, self.groups.rooms, self.chatrooms.rooms
        )
        self.translation = TranslationService(settings)  # an engine of the operator's, or none
        self.reactions = ReactionService(  # message reactions, told to the conversation's online users
            self.db, settings, self.ids, self.users, self.messages, self.groups.rooms, self.router
        )
        self.exports = AppExportService(self.db, settings, self.callbacks)  # `hxim export` and `hxim import`
        # `hxim migrate-from-easemob`: an app of an Easemob REST API copied into this database
        self.easemob_migration = EasemobMigration(self.db, settings, self.users, self.user_metadata, self.imports)
        if self.cluster is not None:
            self.cluster.delivered_hook = self.messages.delivered_here
            self.cluster.number_hooks.append(self._renumber)
            # what services keep in memory, changed on another node
            for service in (self.blocks, self.mutes, self.moderation, self.logins):
                service.tell_nodes = self.cluster.tell_nodes
            self.cluster.change_hooks.update({
                "blocks": self.blocks.changed_elsewhere,
                "blocks-all": self.blocks.reset,
                "mutes": self.mutes.apply,
                "mutes-gone": self.mutes.forget_keys,
                "keywords": self.moderation.refresh,
                "presence-subscriptions": self.presence_subscriptions.changed_elsewhere,
                "login-failed": self.logins.failed_elsewhere,
                "login-succeeded": self.logins.succeeded_elsewhere,
            })
            self.cluster.reset_hooks += [
                self.blocks.reset, self.mutes.reload, self.moderation.reload, self.presence_subscriptions.reset,
            ]
            self.cluster.app_hooks.append(self.apps.forget)
            self.apps.change_hooks.append(self.cluster.app_changed)
        self._joined = False
        self.tokens: TokenService  # set by open(): its key lives in the database
        self.default_app: App | None = None

    def open(self, create_default: bool = True, create_database: bool = True) -> list[tuple[App, str]]:
        """Migrate the schema, load the signing key and, on a first start, create the default app.

        Returns the apps created here with their client secrets, so that the caller can print the
        credentials once (only a hash of the secret is kept). With `create_database` false, a
        database never migrated (or a SQLite file not there) raises `NoDatabase` and nothing is
        created. A database that cannot be used raises `DatabaseUnavailable`.
        """
        if not create_database and not self.db.schema_present():
            raise NoDatabase(self.db.location, self.db.is_sqlite)
        self.db.migrate()
        key = self.db.run_sync(server_key_txn, "token-hmac", secrets.token_bytes(32))
        self.tokens = TokenService(key, self.settings.token_ttl_seconds)
        self.admins.open(self.db.run_sync(server_key_txn, "admin-session", secrets.token_bytes(32)))
        self.callbacks.open_sync(self.db.run_sync(server_key_txn, "callback-secret", secrets.token_bytes(32)))
        self.mutes.load_sync()
        self.moderation.load_sync()
        created: list[tuple[App, str]] = []
        if create_default and not self.apps.list_sync():
            org, _, name = (self.settings.default_app or "hxim#default").partition("#")
            first = self.apps.create_first_sync(org, name or "default")  # (unless a node starting too did)
            if first is not None:
                created.append(first)
        self.default_app = self.apps.default_sync(self.settings.default_app)
        return created

    async def join_cluster(self) -> None:
        """In a cluster, join it (on the serving loop, before serving): lease the id number, write
        this node's sessions to Redis and load the others'. Nothing on a single node."""
        if self.cluster is not None and not self._joined:
            self.ids.node = await self.cluster.join(self.settings.node_number)
            self._joined = True

    def _renumber(self, number: int) -> None:
        self.ids.node = number

    async def leave_cluster(self) -> None:
        if self.cluster is not None and self._joined:
            self._joined = False
            await self.cluster.leave()
            await self.limiter.aclose()

    async def open_native(self) -> None:
        """On PostgreSQL with `db_native` on, open the asyncpg pool for the hot statements on the
        serving loop (storage/native.py); nothing otherwise."""
        if self.settings.db_native and not self.db.is_sqlite:
            await self.db.open_native(self.settings.db_native_pool_size, self.settings.db_statement_cache_size)

    async def close_native(self) -> None:
        await self.db.close_native()

    def start_jobs(self) -> None:
        """Start the node's background work that needs the serving event loop: broadcasts, the
        delivery of callbacks."""
        self.broadcasts.start()
        self.callback_delivery.start()
        self.push.start()

    async def stop_jobs(self) -> None:
        await self.broadcasts.stop()
        await self.callback_delivery.stop()
        await self.push.stop()

    def close(self) -> None:
        self.hasher.close()
        self.db.dispose()
