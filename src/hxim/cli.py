"""The `hxim` command: serve, migrate, and manage apps.

    hxim serve                      start the server (HTTP on 0.0.0.0:5280 by default)
    hxim migrate                    bring the database schema up to date
    hxim app create ORG APP [--open-registration] [--json]
    hxim app list [--json]
    hxim app rotate-secret ORG APP [--json]
    hxim app token ORG APP          print an app admin token
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from hxim.config import load_settings
from hxim.errors import HximError
from hxim.model import App

__all__ = ["main"]


def app_json(app: App) -> dict[str, Any]:
    return {
        "org": app.org,
        "app": app.name,
        "appkey": app.appkey,
        "application": app.id,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "open_registration": app.open_registration,
    }


def _print_app(app: App, as_json: bool) -> None:
    if as_json:
        print(json.dumps(app_json(app)))
    else:
        print(
            f"app {app.appkey}\n  application   {app.id}\n  client_id     {app.client_id}\n"
            f"  client_secret {app.client_secret}\n  registration  "
            f"{'open' if app.open_registration else 'authorized (needs an admin token)'}"
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load_settings()
    if args.command == "serve":
        from hxim.server import serve

        return serve(settings)

    from hxim.app import Node

    node = Node(settings)
    try:
        if args.command == "migrate":
            node.db.migrate()
            print(f"database at {settings.resolved_database_url} is up to date")
            return 0
        if args.app_command == "create":
            node.open(create_default=False)
            app = node.apps.create_sync(args.org, args.app, args.open_registration)
            _print_app(app, args.json)
        elif args.app_command == "list":
            node.db.migrate()
            apps = node.apps.list_sync()
            if args.json:
                print(json.dumps([app_json(a) for a in apps]))
            else:
                for a in apps:
                    _print_app(a, False)
        else:
            node.open(create_default=False)
            found = node.apps.get_sync(args.org, args.app)
            if found is None:
                print(f"no app {args.org}#{args.app}", file=sys.stderr)
                return 1
            if args.app_command == "rotate-secret":
                _print_app(node.apps.rotate_secret_sync(found), args.json)
            else:
                print(node.tokens.issue_app(found))
        return 0
    except HximError as err:
        print(f"error: {err.description}", file=sys.stderr)
        return 1
    finally:
        node.close()
