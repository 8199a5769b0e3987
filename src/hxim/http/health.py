"""The probes of an orchestrator or a load balancer (docs/operating.md):

* `GET /health`: 200 `{"status":"ok"}` while the process serves HTTP; it touches nothing else,
  so a slow database never makes a live node look dead. A node given a name (`node_id`, which
  every worker of `hxim serve --workers N` has) says it: `{"status":"ok","node":"web1-2"}`.
* `GET /ready`: 200 `{"status":"ready","checks":{…}}` when every readiness check (the database
  today: `services.readiness`) answered within `ready_timeout_seconds`, else 503
  `{"status":"not ready","error":"database unreachable: …","checks":{…}}`; each check says
  `ok` or what failed, and how long it took.

Both answer anyone (a probe comes from wherever the orchestrator runs) and never say more than
which check failed and the driver's words for why.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hxim.app import Node
from hxim.http.apidoc import NUM, STR, doc, obj, secure
from hxim.http.render import json_response

__all__ = ["routes"]


_CHECK = obj({"status": {"enum": ["ok", "failed"]}, "error": STR, "seconds": NUM}, ["status", "seconds"])


@doc("Alive: the process serves HTTP (touches nothing else); `node`: the node's name, when it has one",
     tag="Operating", ok=obj({"status": {"const": "ok"}, "node": STR}, ["status"]))
async def health(request: Request) -> Response:
    node: Node = request.app.state.node
    name = node.settings.node_id
    return json_response({"status": "ok", "node": name} if name else {"status": "ok"})


@doc(
    "Ready: every readiness check (the database) answered in time",
    tag="Operating",
    ok=obj({"status": {"const": "ready"}, "checks": {"type": "object", "additionalProperties": _CHECK}},
           ["status", "checks"]),
    errors={503: "a check failed: `error` says which and why"},
)
async def ready(request: Request) -> Response:
    node: Node = request.app.state.node
    results = await node.readiness.check()
    checks = {
        r.name: {"status": "ok" if r.ok else "failed", **({"error": r.detail} if r.detail else {}),
                 "seconds": round(r.seconds, 4)}
        for r in results
    }
    failed = [r.detail for r in results if not r.ok]
    if failed:
        return json_response({"status": "not ready", "error": "; ".join(failed), "checks": checks}, 503)
    return json_response({"status": "ready", "checks": checks})


routes = [
    Route("/health", secure(health), methods=["GET"]),  # anyone: a probe comes from wherever it runs
    Route("/ready", secure(ready), methods=["GET"]),
]
