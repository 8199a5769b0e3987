"""What a node counts while it serves: plain integers and bucketed durations.

The hot paths (a message stored and routed, a login, a REST request, a database transaction)
bump a Python int or a bucket here: no lock on the event loop's own counts, no label lookup, no
call into a metrics library. The Prometheus exposition (`http/metrics.py`) reads them at scrape
time and turns them into the metrics docs/operating.md lists; everything a scrape can compute
instead (live sessions, queue depths) is not counted here at all.
"""

from __future__ import annotations

import threading
from bisect import bisect_left

__all__ = [
    "DB_BUCKETS",
    "HTTP_BUCKETS",
    "PROTOCOLS",
    "Counters",
    "Histogram",
    "by_protocol",
]

# A session's `device` (hub `Session`) → the `protocol` label of the session and login metrics.
PROTOCOLS = {"xmpp": "xmpp_tcp", "xmpp-websocket": "xmpp_websocket", "xmpp-bosh": "bosh", "msync": "msync"}
CHAT_TYPES = ("chat", "groupchat", "chatroom")
SURFACES = ("http", "xmpp", "msync")  # where an unexpected exception can end a request or a session

# Upper bounds, in seconds, of the duration buckets (Prometheus's `le`).
DB_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def by_protocol(census: dict[str, tuple[int, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """A router's census (per `device`: sessions, items queued) as two counts per protocol label:
    the sessions and the items waiting in their queues, every protocol present."""
    sessions = dict.fromkeys(PROTOCOLS.values(), 0)
    queued = dict.fromkeys(PROTOCOLS.values(), 0)
    for device, (count, waiting) in census.items():
        protocol = PROTOCOLS.get(device, device)
        sessions[protocol] = sessions.get(protocol, 0) + count
        queued[protocol] = queued.get(protocol, 0) + waiting
    return sessions, queued


class Histogram:
    """Durations counted into fixed buckets, as a Prometheus histogram reads them.

    `observe` may be called from any thread (the database's worker threads do) and takes no lock:
    each thread counts into buckets of its own, and `cumulative` adds them up at scrape time."""

    __slots__ = ("bounds", "_local", "_parts", "_parts_lock")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self._local = threading.local()
        # each thread's counts per bucket (the last: above every bound), then its sum of durations
        self._parts: list[list[float]] = []
        self._parts_lock = threading.Lock()  # taken once per thread, at its first observation

    def observe(self, seconds: float) -> None:
        try:
            part = self._local.part
        except AttributeError:
            part = self._local.part = [0] * (len(self.bounds) + 1) + [0.0]
            with self._parts_lock:
                self._parts.append(part)
        part[bisect_left(self.bounds, seconds)] += 1  # the first bound >= seconds
        part[-1] += seconds

    def cumulative(self) -> tuple[list[tuple[str, float]], float]:
        """The buckets as Prometheus exposes them, `(le, observations at most le)` ending with
        `+Inf`, and the sum of every observation."""
        with self._parts_lock:
            parts = [list(p) for p in self._parts]
        size = len(self.bounds) + 1
        counts = [sum(p[i] for p in parts) for i in range(size)]
        total = sum(p[-1] for p in parts)
        buckets = []
        seen = 0.0
        for bound, count in zip((*(repr(b) for b in self.bounds), "+Inf"), counts, strict=True):
            seen += count
            buckets.append((bound, seen))
        return buckets, float(total)


class Counters:
    """The node's running counts, one attribute per metric; every series a label can take is
    there from the start (at zero), so that a rate over it is defined before the first event."""

    def __init__(self) -> None:
        # logins by (protocol, result): result `ok` or `failed`
        self.logins: dict[tuple[str, str], int] = {
            (protocol, result): 0 for protocol in PROTOCOLS.values() for result in ("ok", "failed")
        }
        self.stored: dict[str, int] = dict.fromkeys(CHAT_TYPES, 0)  # messages stored, by chat type
        self.routed = 0  # copies of stored messages queued on a live session
        self.offline = 0  # offline entries written: a recipient with no session to take the message
        self.errors: dict[str, int] = dict.fromkeys(SURFACES, 0)  # unexpected exceptions, by surface
        # REST requests by (route template, method, status), and their durations by (route, method)
        self.requests: dict[tuple[str, str, int], int] = {}
        self.request_durations: dict[tuple[str, str], Histogram] = {}

    def login(self, device: str, ok: bool) -> None:
        """A login over a session of kind `device` (a hub session's `device`) ended."""
        key = (PROTOCOLS.get(device, device), "ok" if ok else "failed")
        self.logins[key] = self.logins.get(key, 0) + 1

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """A REST request on the route whose template is `route` was answered."""
        key = (route, method, status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        durations = self.request_durations.get((route, method))
        if durations is None:
            durations = self.request_durations[(route, method)] = Histogram(HTTP_BUCKETS)
        durations.observe(seconds)
