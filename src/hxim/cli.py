"""The `hxim` command: serve, migrate, and manage apps.

    hxim serve                      start the server (HTTP on 0.0.0.0:5280 by default)
    hxim migrate                    bring the database schema up to date
    hxim app create ORG APP [--open-registration] [--json]
    hxim app list [--json]
    hxim app rotate-secret ORG APP [--json]
    hxim app token ORG APP          print an app admin token
    hxim app-user set ID [--name N] [--password P | --no-password] [--admin | --no-admin] [--app ORG#APP]
                                    create or change an app user of the /api/v2/easemob app API
    hxim user import FILE [--app ORG#APP]
                                    register the users of FILE, one `username password` a line
                                    (users already there are left as they are)
    hxim callback add ORG#APP --name NAME --url URL --secret SECRET [--kind post|pre]
                      [--events LIST] [--chat-types LIST] [--msg-types LIST]
                      [--on-failure pass|reject] [--timeout-ms N]
    hxim callback list ORG#APP [--json]
    hxim callback remove ORG#APP NAME
                                    an app's callback rules (docs/callbacks.md); a running
                                    server applies a change within `callback_rules_reload_ms`
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hxim.config import load_settings
from hxim.errors import HximError
from hxim.logs import configure as configure_logging
from hxim.model import App

__all__ = ["main"]


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
    parser = argparse.ArgumentParser(prog="hxim", description="Self-hosted Easemob-compatible IM server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="start the server")
    sub.add_parser("migrate", help="apply database migrations")
    app = sub.add_parser("app", help="manage apps (tenants)").add_subparsers(dest="app_command", required=True)
    create = app.add_parser("create", help="create an app")
    create.add_argument("org")
    create.add_argument("app")
    create.add_argument("--open-registration", action="store_true", help="let anyone register users")
    create.add_argument("--json", action="store_true")
    listing = app.add_parser("list", help="list apps")
    listing.add_argument("--json", action="store_true")
    rotate = app.add_parser("rotate-secret", help="give an app a new client secret")
    rotate.add_argument("org")
    rotate.add_argument("app")
    rotate.add_argument("--json", action="store_true")
    tok = app.add_parser("token", help="print an app admin token")
    tok.add_argument("org")
    tok.add_argument("app")
    user = sub.add_parser("app-user", help="manage app users of the /api/v2/easemob app API")
    user_sub = user.add_subparsers(dest="app_user_command", required=True)
    put = user_sub.add_parser("set", help="create an app user or change the fields given")
    put.add_argument("id", help="the app user's numeric id (also its IM username)")
    put.add_argument("--name")
    put.add_argument("--password")
    put.add_argument("--no-password", action="store_true", help="remove the password")
    put.add_argument("--admin", dest="is_admin", action="store_true", default=None)
    put.add_argument("--no-admin", dest="is_admin", action="store_false")
    put.add_argument("--app", default="", help="ORG#APP; default: the app API's app (app_api_app or the default app)")
    users = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    imp = users.add_parser("import", help="register users from a file of `username password` lines")
    imp.add_argument("file")
    imp.add_argument("--app", default="", help="ORG#APP; default: the default app")
    cb = sub.add_parser("callback", help="manage an app's callback rules (webhooks)")
    cb_sub = cb.add_subparsers(dest="callback_command", required=True)
    add = cb_sub.add_parser("add", help="add a pre-send or post-send callback rule")
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
    cb_list = cb_sub.add_parser("list", help="list an app's callback rules (without their secrets)")
    cb_list.add_argument("app", metavar="ORG#APP")
    cb_list.add_argument("--json", action="store_true")
    remove = cb_sub.add_parser("remove", help="remove a callback rule (and its callbacks not yet delivered)")
    remove.add_argument("app", metavar="ORG#APP")
    remove.add_argument("name")
    return parser


def _callback(node: Any, args: argparse.Namespace) -> int:
    """`hxim callback add|list|remove`: one plain line for a bad value."""
    from hxim.services.callbacks import RuleError

    node.open(create_default=False)
    org, _, name = args.app.partition("#")
    app = node.apps.get_sync(org, name) if org and name else None
    if app is None:
        print(f"no app {args.app}", file=sys.stderr)
        return 1
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
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _import_users(node: Any, args: argparse.Namespace) -> int:
    """Register the users of a file in batches, as REST batch registration does."""
    import asyncio

    node.open(create_default=False)
    key = args.app or (node.default_app.appkey if node.default_app else "")
    org, _, name = key.partition("#")
    app = node.apps.get_sync(org, name) if key else None
    if app is None:
        print(f"no app {key or '(no default app)'}", file=sys.stderr)
        return 1
    with open(args.file, encoding="utf-8") as f:
        entries = [{"username": n, "password": p} for n, _, p in (line.strip().partition(" ") for line in f) if n]

    async def run() -> int:
        users = node.users
        size = node.settings.register_batch_max
        added = 0
        for i in range(0, len(entries), size):
            batch = entries[i : i + size]
            present = {u.key for u in await users.get_many(app, [e["username"] for e in batch])}
            batch = [e for e in batch if e["username"].lower() not in present]
            if batch:
                added += len(await users.register(app, batch))
        return added

    added = asyncio.run(run())
    print(f"{added} users registered in {app.appkey} ({len(entries) - added} already there)")
    return 0


def _app_user(node: Any, settings: Any, args: argparse.Namespace) -> int:
    from hxim.http.easemob_app_users import app_user_entity
    from hxim.services.app_users import parse_app_user_id

    node.open(create_default=False)
    key = args.app or settings.app_api_app or (node.default_app.appkey if node.default_app else "")
    org, _, name = key.partition("#")
    found = node.apps.get_sync(org, name) if key else None
    if found is None:
        print(f"no app {key or '(no default app)'}", file=sys.stderr)
        return 1
    uid = parse_app_user_id(args.id)
    if uid is None:
        print(f"app user id [{args.id}] must be a number from 1 to 2^63-1", file=sys.stderr)
        return 1
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
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        from hxim.server import serve

        return serve(settings)

    from hxim.app import Node

    node = Node(settings)
    try:
        if args.command == "app-user":
            return _app_user(node, settings, args)
        if args.command == "user":
            return _import_users(node, args)
        if args.command == "callback":
            return _callback(node, args)
        if args.command == "migrate":
            node.db.migrate()
            print(f"database at {settings.resolved_database_url} is up to date")
            return 0
        if args.app_command == "create":
            node.open(create_default=False)
            app, secret = node.apps.create_sync(args.org, args.app, args.open_registration)
            print_app(app, args.json, secret)
        elif args.app_command == "list":
            node.db.migrate()
            apps = node.apps.list_sync()
            if args.json:
                print(json.dumps([app_json(a) for a in apps]))
            else:
                for a in apps:
                    print_app(a, False)
        else:
            node.open(create_default=False)
            found = node.apps.get_sync(args.org, args.app)
            if found is None:
                print(f"no app {args.org}#{args.app}", file=sys.stderr)
                return 1
            if args.app_command == "rotate-secret":
                rotated, secret = node.apps.rotate_secret_sync(found)
                print_app(rotated, args.json, secret)
            else:
                print(node.tokens.issue_app(found))
        return 0
    except HximError as err:
        print(f"error: {err.description}", file=sys.stderr)
        return 1
    finally:
        node.close()
