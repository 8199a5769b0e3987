"""An app's callback receiver for the tests (docs/callbacks.md): a real HTTP server in the test
process that records every callback hxim POSTs to it, and answers pre-send requests as an app's
receiver would. Shared by the callback scenarios (tests/scenarios/test_callbacks.py: XMPP and
msync clients) and by the SDK tests in Chromium (tests/msync, tests/webim); each imports the
module-scoped `receiver` fixture.

Paths choose the answer: under `/pre/` a pre-send verdict (below); `/long` answers 1,001
characters; under `/slow/` after 0.3 s; anything else `ok` at once, or 503 while `refusing`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conftest import Api, free_port, new_app, unique

__all__ = ["FAST", "PRESEND_CASES", "REFUSAL", "SECRET", "Receiver", "add_rule", "appkey", "judge_with",
           "judged_by_words", "receiver", "signed"]

SECRET = "s3cr3t-for-tests"
FAST = {  # a server's settings for the tests: retries and rule changes within a fraction of a second
    "HXIM_CALLBACK_RULES_RELOAD_MS": "100",
    "HXIM_CALLBACK_POLL_MS": "50",
    "HXIM_CALLBACK_RETRY_BASE_SECONDS": "0.2",
    "HXIM_CALLBACK_RETRY_MAX_DELAY_SECONDS": "1",
    "HXIM_CALLBACK_TIMEOUT_SECONDS": "2",
}
REFUSAL = "no bad words here"  # the code of the receiver's refusals: the text a refused sender reads


class Receiver:
    """An HTTP server that records every callback; `refusing` answers 503; paths under /pre/
    answer as a pre-send receiver: `/pre/reject/…` refuses with the code `REFUSAL`, `/pre/words/…`
    refuses texts with the word "bad" (the same code) and passes the others, `/pre/rewrite/…`
    replaces the text by "a cleaner text", `/pre/slow/…` answers valid after 1 s, anything else
    valid at once."""

    def __init__(self) -> None:
        self.port = free_port()
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.refusing = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                path = self.path
                with receiver.lock:
                    receiver.got.append((path, body))
                status, answer = 200, b"ok"
                if path.startswith("/pre/"):
                    answer = json.dumps(_verdict(path.split("/")[2], body)).encode()
                elif receiver.refusing:
                    status = 503
                elif path == "/long":
                    answer = b"x" * 1001
                elif path.startswith("/slow/"):
                    time.sleep(0.3)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for p, b in self.got if p == path]

    def asked(self, sender: str) -> list[dict[str, Any]]:
        """The pre-send requests about `sender`'s messages."""
        with self.lock:
            return [b for p, b in self.got if p.startswith("/pre/") and b.get("from") == sender]

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def _verdict(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    if kind == "slow":
        time.sleep(1.0)
    if kind == "reject" or (kind == "words" and "bad" in str(body.get("payload", {}).get("msg", ""))):
        return {"valid": False, "code": REFUSAL}
    if kind == "rewrite":
        return {"valid": True, "payload": {"msg": "a cleaner text", "type": "txt"}}
    return {"valid": True}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def signed(body: dict[str, Any]) -> bool:
    expected = hashlib.md5(f"{body['callId']}{SECRET}{body['timestamp']}".encode()).hexdigest()
    return body["security"] == expected and body.get("securityVersion") == "1.0.0"


def appkey(api: Api) -> str:
    return f"{api.creds.org}#{api.creds.app}"


def add_rule(api: Api, name: str, url: str, *extra: str, reload_seconds: float = 0.4) -> None:
    """`hxim callback add` for the API's app, then a pause until the running server has it (it
    looks for changed rules every `callback_rules_reload_ms`: `reload_seconds` must be longer)."""
    r = api.server.cli("callback", "add", appkey(api), "--name", name, "--url", url, "--secret", SECRET, *extra)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout
    time.sleep(reload_seconds)


def judge_with(api: Api, url: str, *extra: str, reload_seconds: float = 0.4) -> None:
    """The app's one pre-send rule, `judge`, asks `url` from now on (with the rule options `extra`)."""
    api.server.cli("callback", "remove", appkey(api), "judge")
    add_rule(api, "judge", url, "--kind", "pre", *extra, reload_seconds=reload_seconds)


def judged_by_words(xs: Any, receiver: Receiver, reload_seconds: float = 1.2) -> tuple[Any, str, str]:
    """`xs` (an XServer) with an app of its own whose one pre-send rule refuses texts with the word
    "bad" (`/pre/words/`), and two users of that app. `reload_seconds`: longer than the server's
    `callback_rules_reload_ms`."""
    judged = dataclasses.replace(xs, api=new_app(xs.server))
    a, b = unique("pa"), unique("pb")
    judged.api.register(a, b)
    judge_with(judged.api, receiver.url(f"/pre/words/{unique('w')}"), reload_seconds=reload_seconds)
    return judged, a, b


# The four outcomes of a pre-send rule, for every client protocol: (the rule's path at the receiver
# and its options, the text sent, the text the recipient gets or None, the refusal's text or None).
PRESEND_CASES: list[tuple[str, tuple[str, ...], str, str | None, str | None]] = [
    ("/pre/reject/x", (), "bad words", None, REFUSAL),
    ("/pre/rewrite/x", (), "dirty", "a cleaner text", None),
    ("/pre/slow/x", ("--timeout-ms", "100"), "slow but passed", "slow but passed", None),
    ("/pre/slow/x", ("--timeout-ms", "100", "--on-failure", "reject"), "slow and refused", None,
     "custom internal error"),
]
