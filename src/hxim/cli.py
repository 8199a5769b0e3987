"""The `hxim` command: serve, migrate, check the settings, and manage apps and users.

    hxim serve [--host H] [--port N] [--xmpp-port N] [--workers N]
                                    start the server (HTTP on 0.0.0.0:5280 by default); with
                                    --workers N, N node processes sharing the ports (workers.py)
    hxim migrate                    create the database, or bring its schema up to date
    hxim config check               check the settings; print those that differ from the defaults
    hxim app create ORG APP [--open-registration] [--json]
    hxim app list [--json]
    hxim app rotate-secret ORG APP [--json]
    hxim app token ORG APP          print an app admin token
    hxim app-user set ID [--name N] [--password P | --no-password] [--admin | --no-admin] [--app ORG#APP]
                                    create or change an app user of the /api/v2/easemob app API
    hxim user import FILE [--app ORG#APP] [--skip-bad]
                                    register the users of FILE, one `username password` a line
                                    (users already there are left as they are)
    hxim callback add ORG#APP --name NAME --url URL --secret SECRET [--kind post|pre]
                      [--events LIST] [--chat-types LIST] [--msg-types LIST]
                      [--on-failure pass|reject] [--timeout-ms N]
    hxim callback list ORG#APP [--json]
    hxim callback remove ORG#APP NAME
                                    an app's callback rules (docs/callbacks.md); a running
                                    server applies a change within `callback_rules_reload_ms`
    hxim export ORG#APP FILE        write everything of an app to FILE (gzip'd JSON Lines, docs/backup.md)
    hxim import FILE [--app ORG#APP] [--replace]
                                    recreate the app of FILE in this database (under its own key, or
                                    ORG#APP); an app of that key is replaced only with --replace
    hxim backup FILE                copy the SQLite database while the server runs (PostgreSQL: pg_dump)
    hxim admin add NAME [--password-stdin]
    hxim admin password NAME [--password-stdin]
    hxim admin remove NAME
    hxim admin list                 the administrators of the admin console at /admin (docs/admin.md);
                                    the password is asked twice on the terminal, or read from stdin
    hxim migrate-from-easemob --base-url URL --org ORG --app APP --client-id ID --client-secret SECRET
                      [--into ORG#APP] [--state FILE] [--page-size N] [--messages-since DATE]
                      [--history-timezone ZONE] [--requests-per-second N]
                                    copy an app from an Easemob REST API (Easemob's cloud, another
                                    hxim) into this database: users, contacts, blocks, groups, chat
                                    rooms, message history (docs/migrating.md); resumable

Every command takes `--config FILE`, `--data-dir DIR`, `--database-url URL`, `--log-level
LEVEL` and `--debug`; command-line values win over HXIM_* variables, which win over the
config file. Commands other than `serve`, `migrate`, `app create`, `admin add`, `import` and
`migrate-from-easemob` never create a database.

What goes wrong is one line on stderr, never a traceback (but with `--debug` or HXIM_DEBUG=1),
and the exit code says what kind of thing it was (EXIT_CODES, docs/deployment.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from hxim.config import ConfigError, Origins, Settings, changed_settings, read_settings, unknown_variables
from hxim.errors import HximError
from hxim.logs import configure as configure_logging
from hxim.model import App

__all__ = ["EXIT_CODES", "main", "report"]

EXIT_OK = 0
EXIT_INPUT = 1  # the settings, the arguments' values or an input file are wrong; fix and run again
EXIT_USAGE = 2  # the command line itself (argparse)
EXIT_DATABASE = 3  # the database (or a cluster's Redis) cannot be used: unreachable, refusing, not created yet
EXIT_LISTEN = 4  # a port cannot be listened on
EXIT_BUG = 70  # an error hxim did not expect (EX_SOFTWARE)
EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_INPUT: "bad settings or input: a config value or key, a missing file, an unknown app, bad lines",
    EXIT_USAGE: "the command line is wrong (unknown command or option)",
    EXIT_DATABASE: "the database (or a cluster's Redis) cannot be used: unreachable, refusing the login, or not "
    "created yet",
    EXIT_LISTEN: "a port cannot be listened on (in use, privileged, an address not on this machine)",
    EXIT_BUG: "an unexpected error: one line, the traceback with --debug",
}

# command-line options over settings: option -> the settings it sets
SETTING_OPTIONS = {
    "--data-dir": ("data_dir",),
    "--database-url": ("database_url",),
    "--log-level": ("log_level",),
    "--host": ("http_host", "xmpp_host"),
    "--port": ("http_port",),
    "--xmpp-port": ("xmpp_port",),
    "--workers": ("workers",),
}


class Refused(Exception):
    """What was asked cannot be done; the message says why in one line."""


def app_json(app: App, secret: str | None = None) -> dict[str, Any]:
    """An app as `--json` prints it; the client secret only where it was just made (it is kept
    as a hash: create and rotate-secret show it once)."""
    out: dict[str, Any] = {
        "org": app.org,
        "app": app.name,
        "appkey": app.appkey,
        "application": app.id,
        "client_id": app.client_id,
    }
    if secret is not None:
        out["client_secret"] = secret
    out["open_registration"] = app.open_registration
    return out


def print_app(app: App, as_json: bool, secret: str | None = None) -> None:
    if as_json:
        print(json.dumps(app_json(app, secret)))
        return
    shown = f"  client_secret {secret}\n" if secret is not None else ""
    print(
        f"app {app.appkey}\n  application   {app.id}\n  client_id     {app.client_id}\n{shown}"
        f"  registration  {'open' if app.open_registration else 'authorized (needs an admin token)'}"
    )


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("settings (over HXIM_* variables and the config file)")
    # SUPPRESS: an option given before the command is not reset by the command's own parser
    group.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                       help="TOML config file (default: $HXIM_CONFIG, else ./hxim.toml if there)")
    group.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                       help="directory of the SQLite database (setting data_dir)")
    group.add_argument("--database-url", metavar="URL", default=argparse.SUPPRESS,
                       help="postgresql://USER@HOST/DB, or a SQLAlchemy URL (setting database_url)")
    group.add_argument("--log-level", metavar="LEVEL", default=argparse.SUPPRESS,
                       help="DEBUG, INFO, WARNING or ERROR (setting log_level)")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an unexpected error (also HXIM_DEBUG=1)")
    codes = "\n".join(f"  {code:<3} {meaning}" for code, meaning in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="hxim",
        description="Self-hosted Easemob-compatible IM server",
        parents=[common],
        epilog=f"exit codes:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hxim {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, text: str) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text, parents=[common])
        return made

    listeners = argparse.ArgumentParser(add_help=False)
    group = listeners.add_argument_group("listeners")
    group.add_argument("--host", default=argparse.SUPPRESS, help="address both listeners bind (http_host, xmpp_host)")
    group.add_argument("--port", default=argparse.SUPPRESS, help="HTTP port (http_port)")
    group.add_argument("--xmpp-port", default=argparse.SUPPRESS, help="XMPP client port (xmpp_port)")
    group.add_argument("--workers", metavar="N", default=argparse.SUPPRESS,
                       help="node processes sharing the ports (workers); above 1 needs redis_url and PostgreSQL")
    sub.add_parser("serve", help="start the server", description="start the server", parents=[common, listeners])
    command(sub, "migrate", "create the database or apply its pending migrations")
    config = sub.add_parser("config", help="check the settings").add_subparsers(dest="config_command", required=True)
    text = "load the settings as serve would, name every bad one, show those that differ from the defaults"
    config.add_parser("check", help=text, description=text, parents=[common, listeners])
    app = sub.add_parser("app", help="manage apps (tenants)").add_subparsers(dest="app_command", required=True)
    create = command(app, "create", "create an app")
    create.add_argument("org")
    create.add_argument("app")
    create.add_argument("--open-registration", action="store_true", help="let anyone register users")
    create.add_argument("--json", action="store_true")
    listing = command(app, "list", "list apps")
    listing.add_argument("--json", action="store_true")
    rotate = command(app, "rotate-secret", "give an app a new client secret")
    rotate.add_argument("org")
    rotate.add_argument("app")
    rotate.add_argument("--json", action="store_true")
    tok = command(app, "token", "print an app admin token")
    tok.add_argument("org")
    tok.add_argument("app")
    user = sub.add_parser("app-user", help="manage app users of the /api/v2/easemob app API")
    user_sub = user.add_subparsers(dest="app_user_command", required=True)
    put = command(user_sub, "set", "create an app user or change the fields given")
    put.add_argument("id", help="the app user's numeric id (also its IM username)")
    put.add_argument("--name")
    put.add_argument("--password")
    put.add_argument("--no-password", action="store_true", help="remove the password")
    put.add_argument("--admin", dest="is_admin", action="store_true", default=None)
    put.add_argument("--no-admin", dest="is_admin", action="store_false")
    put.add_argument("--app", default="", help="ORG#APP; default: the app API's app (app_api_app or the default app)")
    users = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    imp = command(users, "import", "register users from a file of `username password` lines")
    imp.add_argument("file")
    imp.add_argument("--app", default="", help="ORG#APP; default: the default app")
    imp.add_argument("--skip-bad", action="store_true",
                     help="import the good lines and list the bad (default: import nothing if a line is bad)")
    cb = sub.add_parser("callback", help="manage an app's callback rules (webhooks)")
    cb_sub = cb.add_subparsers(dest="callback_command", required=True)
    add = command(cb_sub, "add", "add a pre-send or post-send callback rule")
    add.add_argument("app", metavar="ORG#APP")
    add.add_argument("--name", required=True)
    add.add_argument("--url", required=True)
    add.add_argument("--secret", required=True, help="signs each callback (md5); never shown again")
    add.add_argument("--kind", default="post", help="post (default) or pre")
    add.add_argument("--events", default="", help="post-send events, comma-separated (default: all but "
                     "chat_offline)")
    add.add_argument("--chat-types", default="", help="chat,groupchat,chatroom (default: all)")
    add.add_argument("--msg-types", default="", help="txt,img,audio,video,file,loc,cmd,custom (default: all)")
    add.add_argument("--on-failure", default="pass", help="pre-send: pass (default) or reject")
    add.add_argument("--timeout-ms", default=None, help="pre-send: the wait for an answer")
    cb_list = command(cb_sub, "list", "list an app's callback rules (without their secrets)")
    cb_list.add_argument("app", metavar="ORG#APP")
    cb_list.add_argument("--json", action="store_true")
    remove = command(cb_sub, "remove", "remove a callback rule (and its callbacks not yet delivered)")
    remove.add_argument("app", metavar="ORG#APP")
    remove.add_argument("name")
    export = command(sub, "export", "write everything of an app to a file (docs/backup.md)")
    export.add_argument("app", metavar="ORG#APP")
    export.add_argument("file")
    imp_app = command(sub, "import", "recreate an app from a file of `hxim export`")
    imp_app.add_argument("file")
    imp_app.add_argument("--app", default="", metavar="ORG#APP", help="the app's key here (default: its own)")
    imp_app.add_argument("--replace", action="store_true", help="delete the app of that key first, if there is one")
    backup = command(sub, "backup", "copy the SQLite database while the server runs")
    backup.add_argument("file")
    adm = sub.add_parser("admin", help="manage the administrators of the admin console (/admin)")
    adm_sub = adm.add_subparsers(dest="admin_command", required=True)
    for name, text in (("add", "add an administrator"), ("password", "give an administrator a new password "
                                                                     "(their console sessions end)")):
        made = command(adm_sub, name, text)
        made.add_argument("name")
        made.add_argument("--password-stdin", action="store_true",
                          help="read the password from the first line of standard input instead of asking")
    command(adm_sub, "remove", "remove an administrator (their console sessions end)").add_argument("name")
    command(adm_sub, "list", "list the administrators")
    mig = command(sub, "migrate-from-easemob", "copy an app from an Easemob REST API into this database "
                  "(docs/migrating.md)")
    source = mig.add_argument_group("the source: an app of Easemob's cloud, or of another hxim")
    source.add_argument("--base-url", required=True, help="its REST base URL, e.g. https://a1.easemob.com")
    source.add_argument("--org", required=True)
    source.add_argument("--app", required=True)
    source.add_argument("--client-id", required=True)
    source.add_argument("--client-secret", required=True)
    mig.add_argument("--into", default="", metavar="ORG#APP",
                     help="the app here (default: the source's ORG#APP; created when missing)")
    mig.add_argument("--state", default="", metavar="FILE",
                     help="where progress is kept, to go on after a stop (default: easemob-ORG-APP.migration.json)")
    mig.add_argument("--page-size", default=None, metavar="N",
                     help="users, groups, chat rooms and members a page (setting migration_page_size)")
    mig.add_argument("--messages-since", default=None, metavar="DATE",
                     help="copy messages sent from then on, an ISO date or time, UTC unless it says "
                     "(default: migration_history_days ago)")
    mig.add_argument("--history-timezone", default=None, metavar="ZONE",
                     help="the zone the source names history hours in (Easemob's China cluster: Asia/Shanghai, "
                     "others: UTC); default: ask for every zone's hours")
    mig.add_argument("--requests-per-second", default=None, metavar="N",
                     help="pace of calls to the source (setting migration_requests_per_second; 0: no pacing)")
    return parser


def _admin_password(args: argparse.Namespace) -> str:
    """The password of `hxim admin add|password`: stdin's first line, or asked twice on the terminal."""
    import getpass

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise Refused("--password-stdin: standard input holds no password")
        return password
    if not sys.stdin.isatty():
        raise Refused("no terminal to ask the password on: pass --password-stdin and write it to standard input")
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise Refused("the two passwords differ; nothing changed")
    return password


def _admin(node: Any, args: argparse.Namespace) -> int:
    """`hxim admin add|password|remove|list`: one plain line for what cannot be done."""
    from hxim.services.admins import AdminError

    try:
        if args.admin_command == "add":
            node.admins.check_name(args.name)
            password = _admin_password(args)
            node.open(create_default=False)  # a first step: the database may not exist yet
            node.admins.add_sync(args.name, password)
            print(f"administrator {args.name} added; log in at /admin on the HTTP port (docs/admin.md)")
            return EXIT_OK
        node.open(create_default=False, create_database=False)
        if args.admin_command == "password":
            node.admins.set_password_sync(args.name, _admin_password(args))
            print(f"administrator {args.name} has a new password; their console sessions ended")
        elif args.admin_command == "remove":
            node.admins.remove_sync(args.name)
            print(f"administrator {args.name} removed; their console sessions ended")
        else:
            admins = node.admins.list_sync()
            if not admins:
                print("no administrators (hxim admin add NAME adds one)")
            for admin in admins:
                print(admin.name)
    except AdminError as exc:
        raise Refused(str(exc)) from None
    return EXIT_OK


def _export(node: Any, args: argparse.Namespace) -> int:
    """`hxim export` and `hxim import`: one plain line for what cannot be done."""
    from hxim.services.app_export import TransferError

    try:
        if args.command == "export":
            node.open(create_default=False, create_database=False)
            app = _find_app(node, args.app, "the app argument")
            done = node.exports.export_sync(app, Path(args.file))
            verb = "exported"
        else:
            node.open(create_default=False)  # into a new database, too
            if args.app:
                _app_key(args.app, "--app")
            done = node.exports.import_sync(Path(args.file), args.app or None, args.replace)
            verb = "imported"
    except TransferError as exc:
        raise Refused(str(exc)) from None
    for warning in done.warnings:
        print(f"hxim: warning: {warning}", file=sys.stderr)
    where = f"to {args.file}" if verb == "exported" else f"from {args.file}"
    print(f"{verb} app {done.app.appkey} {where}: {done.summary()}")
    return EXIT_OK


def _backup(node: Any, settings: Settings, args: argparse.Namespace) -> int:
    """`hxim backup FILE`: SQLite's online backup; PostgreSQL has pg_dump for that (exit 2)."""
    from sqlalchemy.engine import make_url

    if not node.db.is_sqlite:
        database = make_url(settings.resolved_database_url).database or "DBNAME"
        print(f"hxim: hxim backup copies a SQLite database; this one is PostgreSQL: back it up with "
              f"pg_dump --format=custom --file={args.file} {database}", file=sys.stderr)
        return 2
    node.open(create_default=False, create_database=False)
    target = Path(args.file)
    if target.exists():
        raise Refused(f"{target} exists; name a new file")
    try:
        source, answer = node.db.backup_sqlite(target)
    except sqlite3.Error as exc:
        raise Refused(f"the backup failed: {exc}") from None
    if answer != "ok":
        raise Refused(f"the copy at {target} fails its integrity check: {answer}")
    print(f"backup of {source} written to {target} ({target.stat().st_size} bytes, integrity ok)")
    return EXIT_OK


# --- hxim migrate-from-easemob ---------------------------------------------------------------------

# how the migration's lines name each count: (one, several)
_COUNT_LABELS = {
    "read": ("read", "read"), "new": ("new", "new"), "updated": ("updated", "updated"),
    "skipped": ("skipped", "skipped"), "users": ("user read", "users read"),
    "contacts": ("contact new", "contacts new"), "blocks": ("block new", "blocks new"),
    "members": ("member new", "members new"), "admins": ("admin new", "admins new"),
    "mutes": ("mute new", "mutes new"), "hours": ("hour asked", "hours asked"), "files": ("file", "files"),
    "present": ("already there", "already there"), "messages read": ("message read", "messages read"),
}


class _MigrationProgress:
    """The migration's lines on stderr: one per phase with its counts, rewritten in place after
    every page on a terminal (elsewhere written when the phase ends, and once a minute while it
    goes on); warnings as `hxim: warning:` lines."""

    EVERY = 60.0  # seconds between two lines of an unfinished phase, when not on a terminal
    SAID_WAIT = 5.0  # retries that wait this long or longer are said

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.open = False  # a progress line without its newline yet (terminal)
        self.last = time.monotonic()  # when the last line was written (not on a terminal)

    @staticmethod
    def line(state: Any) -> str:
        counts = ", ".join(
            f"{n:,} {_COUNT_LABELS['messages read' if (state.name, key) == ('messages', 'read') else key][n != 1]}"
            for key, n in state.counts.items()
        )
        return f"{state.name}: {counts} ({state.seconds:.1f} s)"

    def phase(self, state: Any, finished: bool) -> None:
        if self.tty:
            print("\r" + self.line(state) + "\x1b[K", end="\n" if finished else "", file=sys.stderr, flush=True)
            self.open = not finished
        elif finished or time.monotonic() - self.last >= self.EVERY:  # a log: a line a minute meanwhile
            print(self.line(state) + ("" if finished else ", going on"), file=sys.stderr, flush=True)
            self.last = time.monotonic()

    def resumed(self, state: Any) -> None:
        print(f"{self.line(state)}, done before", file=sys.stderr, flush=True)

    def retrying(self, method: str, path: str, status: int, delay: float) -> None:
        """A long wait before a call is tried again, or a source that does not answer, is said."""
        if status == 0 or delay >= self.SAID_WAIT:
            what = f"answered {status} to" if status else "did not answer"
            self.warn(f"the source {what} {method} {path.partition('?')[0]}; trying again in {delay:g} s")

    def warn(self, text: str) -> None:
        if self.open:
            print(file=sys.stderr)
            self.open = False
        print(f"hxim: warning: {text}", file=sys.stderr, flush=True)


def _migration_options(settings: Settings, args: argparse.Namespace) -> tuple[int, int, Any, float]:
    """--page-size, --messages-since (ms), --history-timezone and --requests-per-second, checked."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not args.base_url.startswith(("http://", "https://")):
        raise Refused(f"--base-url [{args.base_url}] must be an http:// or https:// URL")
    page = args.page_size if args.page_size is not None else str(settings.migration_page_size)
    if not page.isdecimal() or not 1 <= int(page) <= 1000:
        raise Refused(f"--page-size [{page}] must be a number from 1 to 1000")
    now = datetime.now(UTC)
    if args.messages_since is None:
        since = int(now.timestamp() * 1000) - settings.migration_history_days * 86_400_000
    else:
        try:
            when = datetime.fromisoformat(args.messages_since)
        except ValueError:
            raise Refused(f"--messages-since [{args.messages_since}] must be an ISO date or time, e.g. 2024-05-01 "
                          "or 2024-05-01T08:00:00+08:00") from None
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        if when > now:
            raise Refused(f"--messages-since [{args.messages_since}] is in the future")
        since = int(when.timestamp() * 1000)
    zone = None
    if args.history_timezone is not None:
        try:
            zone = ZoneInfo(args.history_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise Refused(f"--history-timezone [{args.history_timezone}] is not a time zone (e.g. Asia/Shanghai, "
                          "UTC)") from None
    rate = args.requests_per_second
    try:
        rps = float(rate) if rate is not None else settings.migration_requests_per_second
    except ValueError:
        rps = -1.0
    if not 0 <= rps <= 10_000:
        raise Refused(f"--requests-per-second [{rate}] must be a number from 0 (no pacing) to 10000")
    return int(page), since, zone, rps


def _migrate_from_easemob(node: Any, settings: Settings, args: argparse.Namespace) -> int:
    """`hxim migrate-from-easemob`: the phases with their lines on stderr, the summary on stdout."""
    from datetime import UTC, datetime

    from hxim.easemob_client import EasemobClient, Remote
    from hxim.services.apps import check_names
    from hxim.services.easemob_migration import MigrationError, MigrationState, Plan

    page_size, since, zone, rps = _migration_options(settings, args)
    org, name = _app_key(args.into or f"{args.org}#{args.app}", "--into")
    check_names(org, name)
    source_key = f"{args.org}#{args.app} at {args.base_url.rstrip('/')}"
    path = Path(args.state or f"easemob-{args.org}-{args.app}.migration.json")
    try:
        state = MigrationState.open(path, source_key, f"{org}#{name}", since)
    except MigrationError as exc:
        raise Refused(str(exc)) from None
    remote = Remote(
        base_url=args.base_url, org=args.org, app=args.app, client_id=args.client_id,
        client_secret=args.client_secret, timeout_seconds=settings.migration_timeout_seconds,
        connect_timeout_seconds=min(10.0, settings.migration_timeout_seconds), retries=settings.migration_retries,
        backoff_seconds=settings.migration_backoff_seconds, backoff_max_seconds=settings.migration_backoff_max_seconds,
        max_connections=settings.migration_concurrency, requests_per_second=rps, user_agent="hxim-migrate",
        called="the source",
    )
    progress = _MigrationProgress(sys.stderr.isatty())
    logging.getLogger("hxim.upstream").setLevel(logging.ERROR)  # what stops the run is said below, once
    traffic: list[Any] = []

    async def run() -> None:
        client = EasemobClient(remote)
        client.on_retry = progress.retrying
        traffic.append(client.traffic)
        try:
            await node.easemob_migration.check_source(client)  # before anything is written here
            node.open(create_default=False)  # into a new database, too
            app = node.apps.get_sync(org, name)
            if app is None:
                app, secret = node.apps.create_sync(org, name, False)
                print("created the app the migration goes into; keep its credentials, they are printed only once:")
                print_app(app, False, secret)
            resumed = "; going on from where the last run stopped" if state.resumed else ""
            since_text = datetime.fromtimestamp(state.since / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
            print(f"hxim: copying {source_key} into {app.appkey}, messages since {since_text}; progress is kept "
                  f"in {path}{resumed}", file=sys.stderr)
            await node.easemob_migration.run(client, Plan(app, page_size, zone), state, progress)
        finally:
            await client.aclose()

    try:
        asyncio.run(run())
    except MigrationError as exc:
        kept = "; what was copied is kept: run the same command again to go on" if exc.resumable else ""
        raise Refused(f"{exc}{kept}") from None
    except KeyboardInterrupt:
        print(f"hxim: stopped; progress is kept in {path}: run the same command again to go on", file=sys.stderr)
        return 130
    target = state.target
    phases = state.phases
    made = [
        _count(phases["users"].counts["new"], "user"), _count(phases["contacts"].counts["contacts"], "contact"),
        _count(phases["contacts"].counts["blocks"], "block"), _count(phases["groups"].counts["new"], "group"),
        _count(phases["chatrooms"].counts["new"], "chat room"), _count(phases["messages"].counts["new"], "message"),
    ]
    rooms = sum(phases[p].counts[k] for p in ("groups", "chatrooms") for k in ("members", "admins", "mutes", "blocks"))
    updated = phases["users"].counts["updated"]
    if state.changes == 0:
        print(f"migrated {source_key} into {target}: nothing new")
    else:
        more = f"; {rooms:,} room members, admins, mutes and blocks" if rooms else ""
        more += f"; {_count(updated, 'user')} updated" if updated else ""
        print(f"migrated {source_key} into {target}: new {', '.join(made)}{more}")
    sent = traffic[0]
    retried = "".join(
        f", {_count(n, 'answer')} {status} retried" if status else f", {_count(n, 'request')} unanswered retried"
        for status, n in sorted(sent.retried.items())
    )
    print(f"source: {_count(sent.requests, 'request')}{retried}")
    print(
        "passwords: Easemob never reveals them, so every migrated user has a random one and cannot log in "
        f"until theirs is set: by your app backend (PUT /{org}/{name}/users/{{username}}/password) or as "
        "docs/migrating.md says"
    )
    return EXIT_OK


def _version() -> str:
    try:
        return version("hxim")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _apps_here(node: Any) -> str:
    apps = [a.appkey for a in node.apps.list_sync()]
    return f"; apps here: {', '.join(apps)}" if apps else "; there are no apps yet (hxim app create ORG APP)"


def _app_key(key: str, option: str, node: Any = None) -> tuple[str, str]:
    """The org and app of `key` (ORG#APP), else one line saying what `option` wants (and, given the
    node, which apps there are)."""
    org, sep, name = key.partition("#")
    if not (sep and org and name):
        raise Refused(f"{option} wants ORG#APP (e.g. hxim#default){_apps_here(node) if node else ''}")
    return org, name


def _find_app(node: Any, key: str, option: str = "--app") -> App:
    """The app `key` (ORG#APP) names, else one line saying what there is instead."""
    org, name = _app_key(key, option, node)
    app: App | None = node.apps.get_sync(org, name)
    if app is None:
        raise Refused(f"no app {key}{_apps_here(node)}")
    return app


def _default_app(node: Any, key: str) -> App:
    """`--app KEY`, else the default app."""
    if key:
        return _find_app(node, key)
    if node.default_app is None:
        raise Refused(f"no default app: pass --app ORG#APP{_apps_here(node)}")
    app: App = node.default_app
    return app


def _callback(node: Any, args: argparse.Namespace) -> int:
    """`hxim callback add|list|remove`: one plain line for a bad value."""
    from hxim.services.callbacks import RuleError

    node.open(create_default=False, create_database=False)
    app = _find_app(node, args.app, "the app argument")
    callbacks = node.callbacks
    try:
        if args.callback_command == "add":
            timeout = args.timeout_ms
            if timeout is not None:
                if not timeout.isdecimal():
                    raise RuleError(f"--timeout-ms [{timeout}] must be a number of milliseconds from 1 to 60000")
                timeout = int(timeout)
            values = callbacks.validate(
                args.name, args.url, args.secret, args.kind, args.events, args.chat_types, args.msg_types,
                args.on_failure, timeout,
            )
            callbacks.add_sync(app, values)
            print(f"callback rule {args.name} added to {app.appkey} ({args.kind}-send, {args.url})")
        elif args.callback_command == "remove":
            callbacks.remove_sync(app, args.name)
            print(f"callback rule {args.name} removed from {app.appkey}")
        else:
            rules = callbacks.rules_sync(app)
            if args.json:
                print(json.dumps([r.public() for r in rules]))
            for r in rules if not args.json else ():
                events = ",".join(sorted(r.effective_events)) or "-"
                chat_types = ",".join(sorted(r.chat_types)) or "all"
                print(
                    f"{r.name}  {r.kind}  {r.url}  events={events}  chat_types={chat_types}"
                    f"  msg_types={','.join(sorted(r.msg_types)) or 'all'}"
                    + (f"  on_failure={r.on_failure}  timeout_ms={r.timeout_ms}" if r.kind == "pre" else "")
                )
    except RuleError as exc:
        raise Refused(str(exc)) from None
    return EXIT_OK


def _import_users(node: Any, args: argparse.Namespace) -> int:
    """`hxim user import FILE`: check every line, then register in batches, as REST batch
    registration does, with a progress line on a terminal and a summary at the end."""
    from hxim.user_file import import_users, read_user_file

    node.open(create_default=False, create_database=False)
    app = _default_app(node, args.app)
    found = read_user_file(Path(args.file), node.users)
    for line in found.bad:
        print(line, file=sys.stderr)
    if found.bad and not args.skip_bad:
        good = f"the {len(found.good):,} good ones" if found.good else "the good ones"
        raise Refused(
            f"nothing imported: {_count(len(found.bad), 'bad line')} in {args.file} "
            f"(fix them, or pass --skip-bad to import {good})"
        )
    total = len(found.good)
    on_tty = sys.stderr.isatty()

    def progress(done: int) -> None:
        print(f"\rimported {done:,} / {total:,} users", end="", file=sys.stderr, flush=True)

    added = asyncio.run(
        import_users(node.users, app, found.good, node.settings.register_batch_max, progress if on_tty else None)
    )
    if on_tty and total:
        print(file=sys.stderr)
    skipped = f", {_count(len(found.bad), 'bad line')} skipped" if found.bad else ""
    print(f"imported {_count(added, 'user')} into {app.appkey} ({total - added:,} already there{skipped})")
    return EXIT_OK


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _app_user(node: Any, settings: Settings, args: argparse.Namespace) -> int:
    from hxim.http.easemob_app_users import app_user_entity
    from hxim.services.app_users import parse_app_user_id

    node.open(create_default=False, create_database=False)
    found = _default_app(node, args.app or settings.app_api_app)
    uid = parse_app_user_id(args.id)
    if uid is None:
        raise Refused(f"app user id [{args.id}] must be a number from 1 to 2^63-1")
    fields: dict[str, Any] = {}
    if args.name is not None:
        fields["name"] = args.name
    if args.password is not None:
        fields["password"] = args.password
    elif args.no_password:
        fields["password"] = None
    if args.is_admin is not None:
        fields["is_admin"] = args.is_admin
    user, _ = node.app_users.set_sync(found, uid, fields)
    print(json.dumps(app_user_entity(user), ensure_ascii=False))
    return EXIT_OK


def _app(node: Any, args: argparse.Namespace) -> int:
    if args.app_command == "create":
        node.open(create_default=False)
        app, secret = node.apps.create_sync(args.org, args.app, args.open_registration)
        print_app(app, args.json, secret)
        return EXIT_OK
    node.open(create_default=False, create_database=False)
    if args.app_command == "list":
        apps = node.apps.list_sync()
        if args.json:
            print(json.dumps([app_json(a) for a in apps]))
        for a in apps if not args.json else ():
            print_app(a, False)
        return EXIT_OK
    found = _find_app(node, f"{args.org}#{args.app}")
    if args.app_command == "rotate-secret":
        rotated, secret = node.apps.rotate_secret_sync(found)
        print_app(rotated, args.json, secret)
    else:
        print(node.tokens.issue_app(found))
    return EXIT_OK


def _config_check(settings: Settings, origins: Origins) -> int:
    """`hxim config check`, once the settings loaded: where they come from and what differs."""
    for line in unknown_variables():
        print(f"hxim: warning: {line}", file=sys.stderr)
    print(f"config file: {origins.file if origins.file is not None else 'none'}")
    if not settings.database_url:
        folder, why = settings.data_location
        print(f"data directory: {folder} ({why})")
    changed = changed_settings(settings)
    print("settings that differ from the defaults:" if changed else "every setting has its default")
    for name, value in changed:
        where = origins.of(name)
        print(f"  {name} = {value}" + (f"  ({where})" if where != name else ""))
    print("the settings are valid")
    return EXIT_OK


def _settings(args: argparse.Namespace) -> tuple[Settings, Origins]:
    options = {
        name: (option, getattr(args, option[2:].replace("-", "_")))
        for option, names in SETTING_OPTIONS.items()
        for name in names
        if hasattr(args, option[2:].replace("-", "_"))
    }
    return read_settings(getattr(args, "config", None), options)


def _run(args: argparse.Namespace) -> int:
    settings, origins = _settings(args)
    if args.command == "config":
        return _config_check(settings, origins)
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve" and settings.workers > 1:
        from hxim.workers import supervise

        return supervise(settings, _debugging(args))
    if args.command == "serve":
        from hxim.server import serve

        return serve(settings)

    from hxim.app import Node

    folder, why = settings.data_location
    if not settings.database_url and why.startswith("./hxim-data"):
        print(f"hxim: data directory {folder} ({why})", file=sys.stderr)
    node = Node(settings)
    try:
        if args.command == "migrate":
            node.db.migrate()
            print(f"database at {node.db.location} is up to date")
            return EXIT_OK
        if args.command == "app-user":
            return _app_user(node, settings, args)
        if args.command == "user":
            return _import_users(node, args)
        if args.command == "callback":
            return _callback(node, args)
        if args.command in ("export", "import"):
            return _export(node, args)
        if args.command == "backup":
            return _backup(node, settings, args)
        if args.command == "admin":
            return _admin(node, args)
        if args.command == "migrate-from-easemob":
            return _migrate_from_easemob(node, settings, args)
        return _app(node, args)
    finally:
        node.close()


def main(argv: list[str] | None = None) -> int:
    """Run one `hxim` command; what goes wrong becomes one line on stderr and an exit code."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return report(exc, _debugging(args))


def _debugging(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("HXIM_DEBUG", "").lower() in ("1", "true", "yes")


def report(exc: Exception, debug: bool) -> int:
    """Say what went wrong on stderr (one line, or the traceback too when debugging); the exit code."""
    code, lines = _explained(exc)
    if debug:
        traceback.print_exception(exc)
    elif code == EXIT_BUG:
        lines = [f"{lines[0]} (run with --debug for details)"]
    for line in lines:
        print(f"hxim: {line}", file=sys.stderr)
    return code


def _explained(exc: Exception) -> tuple[int, list[str]]:
    """The exit code and the lines that say what went wrong."""
    from hxim.app import DatabaseUnavailable, NoDatabase
    from hxim.hub.cluster import ClusterUnavailable
    from hxim.ports import CannotListen
    from hxim.workers import WorkersFailed

    if isinstance(exc, WorkersFailed):
        return exc.code, [str(exc)]
    if isinstance(exc, ConfigError):
        return EXIT_INPUT, exc.problems
    if isinstance(exc, Refused):
        return EXIT_INPUT, [str(exc)]
    if isinstance(exc, HximError):
        return EXIT_INPUT, [exc.description]
    if isinstance(exc, NoDatabase):
        hint = "pass --data-dir" if exc.is_file else "run hxim migrate"
        return EXIT_DATABASE, [f"{exc} (start the server once with hxim serve, or {hint})"]
    if isinstance(exc, (DatabaseUnavailable, ClusterUnavailable)):
        return EXIT_DATABASE, [str(exc)]
    if isinstance(exc, CannotListen):
        return EXIT_LISTEN, [str(exc)]
    if isinstance(exc, OSError) and exc.filename is not None:  # a file named by the settings or the command
        return EXIT_INPUT, [f"cannot open {exc.filename}: {(exc.strerror or str(exc)).lower()}"]
    first = str(exc).strip().split("\n")[0]
    return EXIT_BUG, [f"unexpected error: {type(exc).__name__}: {first}"]
