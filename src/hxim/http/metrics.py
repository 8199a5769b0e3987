"""`GET /metrics`: the node's metrics in Prometheus's text format, and who may read them.

The names and labels are a contract, listed in docs/operating.md. Nothing here runs on the hot
path: `NodeCollector` reads, at scrape time, what the node counted as it served
(`counters.Counters`, the database's `Database.durations`, the callbacks' counters) and what it
can see right then (the hub's sessions by protocol and their outbound queues, the callbacks
outbox and the unfinished broadcasts, read from storage before each scrape). The registry also
carries prometheus-client's process, platform and GC collectors (`process_cpu_seconds_total`,
`process_resident_memory_bytes`, `python_info`, `python_gc_*`).

Who may scrape is `metrics_access`: `local` (the default) serves loopback addresses only, `open`
anyone, `token` a request whose `Authorization: Bearer …` is `metrics_token`; anyone else gets
403 and a sentence saying why.

Under `hxim serve --workers N` a scrape reaches any one worker, which answers for all of them:
every sample carries the label `node` (the worker's name), and the worker asks each of the
others for theirs over its private socket (ports.Peers; a request there is answered with that
worker's own metrics, and only this machine's hxim user can reach it). A worker that does not
answer within `ready_timeout_seconds` is left out of that scrape.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.samples import Sample
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hxim import __version__
from hxim.app import Node
from hxim.config import Settings
from hxim.counters import by_protocol
from hxim.http.apidoc import doc, secure
from hxim.http.pipeline import bearer_token
from hxim.ports import Peers
from hxim.services.readiness import plain

__all__ = ["Exposition", "NodeCollector", "refusal", "routes"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Depths:
    """What waits in storage, read just before a scrape."""

    outbox: dict[str, int]  # post-send callbacks by state: pending, failed
    broadcasts: int  # broadcasts not finished
    broadcast_targets: int  # the targets they have still to reach


class NodeCollector:
    """The node's own metrics (`hxim_*`), read from the node at each scrape."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.depths: Depths | None = None  # set by `Exposition.render` before each scrape

    def collect(self) -> Iterator[Metric]:
        node = self.node
        counted = node.counters
        yield _family(GaugeMetricFamily, "hxim_build_info", "The hxim version this node runs (always 1)",
                      ["version"], {__version__: 1})

        # --- sessions and their queues: the hub's registry, read now ---
        sessions, queued = by_protocol(node.router.census())
        yield _family(GaugeMetricFamily, "hxim_sessions", "Live client sessions on this node (logged in and "
                      "bound), by protocol", ["protocol"], sessions)
        yield _family(GaugeMetricFamily, "hxim_session_queue_items", "Items waiting in the outbound queues of the "
                      "live sessions, by protocol", ["protocol"], queued)
        yield _family(CounterMetricFamily, "hxim_logins", "Client logins, by protocol and result (ok, failed)",
                      ["protocol", "result"], counted.logins)

        # --- messages ---
        yield _family(CounterMetricFamily, "hxim_messages_stored", "Messages stored by sends (REST, XMPP, msync, "
                      "broadcasts), by chat type", ["chat_type"], counted.stored)
        yield CounterMetricFamily("hxim_messages_routed", "Copies of stored messages queued on a live session",
                                  value=counted.routed)
        yield CounterMetricFamily("hxim_messages_offline", "Offline entries written: a recipient with no live "
                                  "session to take the message", value=counted.offline)

        # --- what waits in storage ---
        depths = self.depths
        if depths is not None:
            yield _family(GaugeMetricFamily, "hxim_callbacks_outbox", "Post-send callbacks in the outbox, by state "
                          "(pending: to be sent; failed: given up, kept for a replay)", ["state"], depths.outbox)
            yield GaugeMetricFamily("hxim_broadcasts_pending", "Broadcasts not finished yet",
                                    value=depths.broadcasts)
            yield GaugeMetricFamily("hxim_broadcast_targets_pending", "Targets the unfinished broadcasts have "
                                    "still to reach", value=depths.broadcast_targets)

        # --- callbacks ---
        delivery = node.callback_delivery.stats()
        yield CounterMetricFamily("hxim_callbacks_delivered", "Post-send callbacks delivered (answered 200)",
                                  value=delivery["delivered"])
        yield CounterMetricFamily("hxim_callbacks_given_up", "Post-send callbacks given up after their retries "
                                  "(kept as failed)", value=delivery["given_up"])
        callbacks = node.callbacks
        by_rule = {
            (callbacks.appkeys.get(rule.app_uuid, rule.app_uuid), rule.name, rule.kind): count
            for rule, count in ((callbacks.rules.get(i), n) for i, n in callbacks.failures.items())
            if rule is not None
        }
        yield _family(CounterMetricFamily, "hxim_callback_failures", "Failed callback tries (no answer in time, not "
                      "a 200, an answer not understood), by rule", ["app", "rule", "kind"], by_rule)
        yield GaugeMetricFamily("hxim_callback_rules_backed_off", "Post-send callback rules backed off now after "
                                "failures in a row (their callbacks wait)", value=len(delivery["backed_off_rules"]))
        presend = {outcome: delivery[f"presend_{outcome}"] for outcome in ("rejected", "failed_passed",
                                                                          "failed_rejected")}
        yield _family(CounterMetricFamily, "hxim_callbacks_presend", "Pre-send callbacks by outcome: rejected (the "
                      "receiver refused the message), failed_passed, failed_rejected (no usable answer: the rule's "
                      "on_failure applied)", ["outcome"], presend)

        # --- HTTP, the database, errors ---
        requests = {(route, method, str(status)): n for (route, method, status), n in counted.requests.items()}
        yield _family(CounterMetricFamily, "hxim_http_requests", "REST requests answered, by route template, method "
                      "and status", ["route", "method", "status"], requests)
        durations = HistogramMetricFamily("hxim_http_request_duration_seconds", "Time to answer a REST request, by "
                                          "route template and method", labels=["route", "method"])
        for (route, method), histogram in sorted(counted.request_durations.items()):
            durations.add_metric([route, method], *histogram.cumulative())
        yield durations
        queries = HistogramMetricFamily("hxim_db_query_duration_seconds", "Time of each database transaction "
                                        "(waiting for the connection included)")
        queries.add_metric([], *node.db.durations.cumulative())
        yield queries
        yield _family(CounterMetricFamily, "hxim_errors", "Unexpected exceptions, by surface (http: answered 500; "
                      "xmpp, msync: a session ended by it)", ["surface"], counted.errors)


def _family(
    kind: type[CounterMetricFamily] | type[GaugeMetricFamily], name: str, documentation: str, labels: list[str],
    values: Mapping[Any, float],
) -> Metric:
    """A metric family with one sample per key of `values`: a label value, or a tuple of them in
    the order of `labels`."""
    family = kind(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return family


class Exposition:
    """The node's registry: `NodeCollector` and prometheus-client's process, platform and GC
    collectors."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.collector = NodeCollector(node)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.peers: Peers | None = None  # a worker of `hxim serve --workers N`: it answers for all

    async def render(self, everyone: bool = True) -> bytes:
        """This node's metrics; a worker's labelled `node`, with the other workers' too unless
        `everyone` is false."""
        own = await self._render_own()
        if self.peers is None:
            return own
        families: dict[str, Metric] = {}
        _merge(families, own.decode(), self.node.settings.node_id)
        if everyone:
            for text in await self._gather(self.peers):
                _merge(families, text, None)
        return generate_latest(_Families(families.values()))

    async def _gather(self, peers: Peers) -> list[str]:
        """The other workers' own metrics (already labelled), those that answer in time."""
        timeout = self.node.settings.ready_timeout_seconds

        async def ask(number: int) -> str | None:
            transport = httpx.AsyncHTTPTransport(uds=peers.path(number))
            try:
                async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
                    r = await client.get("http://worker/metrics")
                r.raise_for_status()
                return r.text
            except httpx.HTTPError as exc:
                log.warning("metrics: worker %d did not answer (%s); left out of this scrape", number, exc)
                return None

        others = [n for n in range(1, peers.count + 1) if n != peers.number]
        return [text for text in await asyncio.gather(*(ask(n) for n in others)) if text is not None]

    async def _render_own(self) -> bytes:
        """Read what waits in storage (within `ready_timeout_seconds`; a database that does not
        answer leaves those gauges out, the rest is served), then every metric."""
        node = self.node
        try:
            async with asyncio.timeout(node.settings.ready_timeout_seconds):
                outbox = await node.callbacks.outbox_depth()
                broadcasts, targets = await node.broadcasts.pending()
            depths: Depths | None = Depths(outbox, broadcasts, targets)
        except Exception as exc:
            log.warning("metrics: the queue depths could not be read from the database: %s", plain(exc))
            depths = None
        self.collector.depths = depths  # no await from here on: the scrape reads these
        return generate_latest(self.registry)


def _merge(families: dict[str, Metric], text: str, node: str | None) -> None:
    """Add the samples of an exposition to `families`, labelled `node` when it is given."""
    for family in text_string_to_metric_families(text):
        into = families.get(family.name)
        if into is None:
            into = families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
        for sample in family.samples:
            labels = sample.labels if node is None else {**sample.labels, "node": node}
            into.samples.append(Sample(sample.name, labels, sample.value, sample.timestamp, sample.exemplar))


class _Families:
    """A registry of already collected families, for `generate_latest`."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> list[Metric]:
        return self.families


def refusal(request: Request, settings: Settings) -> str | None:
    """Why `metrics_access` refuses this request, in a sentence; None when it may read."""
    access = settings.metrics_access
    if access == "open":
        return None
    if access == "local":
        client = request.client
        if client is not None and _loopback(client.host):
            return None
        return "metrics are served to this machine only (metrics_access is local)"
    token = bearer_token(request)
    if token is not None and hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        return None
    return "metrics need the bearer token set as metrics_token (metrics_access is token)"


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


@doc(
    "Prometheus metrics (text exposition format)",
    tag="Operating",
    description="Who may read them is the setting `metrics_access`: `local` (loopback addresses only, the "
    "default), `open`, or `token` (a bearer token equal to the setting `metrics_token`); others get 403 "
    "with one line saying why. The metrics are listed in docs/operating.md.",
    ok={"type": "string"},
    ok_type="text/plain",
    errors={403: "this address or token may not read the metrics"},
)
async def metrics(request: Request) -> Response:
    node: Node = request.app.state.node
    exposition: Exposition = request.app.state.metrics
    if exposition.peers is not None and request.client is None:  # another worker, on the private socket
        return Response(await exposition.render(everyone=False), media_type=CONTENT_TYPE_LATEST)
    why = refusal(request, node.settings)
    if why is not None:
        return PlainTextResponse(why + "\n", 403)
    return Response(await exposition.render(), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", secure(metrics), methods=["GET"])]  # access: `refusal`, by the settings
