"""Translation and RTC usage (Easemob's message_translation_text, _language_list, _detect and
rtc_usage_query pages): without an engine the translation calls are refused as a service not
open, with one (`translation_url`: here a small HTTP engine run by the test) its answers are
passed on; the RTC usage is the page's answer for an app without RTC."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import Api, Server, assert_error, free_port, unique

ENGINE_PORT = free_port()
EXTRA_ENV = {"HXIM_TRANSLATION_URL": f"http://127.0.0.1:{ENGINE_PORT}/engine"}
LANGUAGES = [{"code": "en", "name": "English", "nativeName": "English"},
             {"code": "el", "name": "Greek", "nativeName": "Ελληνικά"}]


class Engine(BaseHTTPRequestHandler):
    """A translation engine as `services.translation` describes it: "translates" by reversing."""

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/engine/languages":
            self._answer(200, LANGUAGES)
        else:
            self._answer(404, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body.get("text") == "break":
            self._answer(500, {"error": "down"})
        elif self.path == "/engine/translate":
            self._answer(200, [{"translations": [{"text": body["text"][::-1], "to": t} for t in body["to"]],
                                "from": body.get("from")}])
        elif self.path == "/engine/detect":
            self._answer(200, {"language": "en", "score": 0.98, "isTranslationSupported": True})
        else:
            self._answer(404, {})

    def log_message(self, *args: Any) -> None:
        pass


_engine = ThreadingHTTPServer(("127.0.0.1", ENGINE_PORT), Engine)
threading.Thread(target=_engine.serve_forever, daemon=True).start()


def test_without_an_engine_translation_is_not_open(api: Api) -> None:
    for method, path, body in (("POST", "/translate", {"text": "学习", "to": ["en"]}),
                               ("POST", "/translate/detect", {"text": "你好"}),
                               ("GET", "/translate/support/language", None)):
        assert_error(api.call(method, path, json=body), 403, "service_not_open", "service not open")


def test_rtc_usage_of_an_app_without_rtc(api: Api) -> None:
    appkey = f"{api.creds.org}#{api.creds.app}"
    r = api.get("/billing/rtc/usage-summary", params={"appKey": appkey})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["data", "meta"] and isinstance(body["meta"]["timestamp"], int)
    assert body["data"] == {"appKey": appkey, "planId": None, "billingItemId": None, "discountUsageMinutes": 0,
                            "fuelBagRemain": 0, "freeUsageMinutes": None}
    assert_error(api.get("/billing/rtc/usage-summary", params={"appKey": "other#app"}), 400, "illegal_argument")


def test_admin_only(api: Api) -> None:
    name = unique("t")
    api.register(name)
    token = api.user_token(name)
    for path in ("/billing/rtc/usage-summary", "/translate/support/language"):
        assert api.get(path, token=token).status_code == 401
        assert api.get(path, token=None).status_code == 401


def test_with_an_engine_its_answers_are_passed_on(extra_server: Server) -> None:
    api = Api(extra_server)
    r = api.post("/translate", json={"from": "en", "text": "study", "to": ["fr", "de"]})
    assert r.status_code == 200, r.text
    assert r.json() == [{"translations": [{"text": "yduts", "to": "fr"}, {"text": "yduts", "to": "de"}],
                         "from": "en"}]
    r = api.post("/translate/detect", json={"text": "hello"})
    assert r.status_code == 200 and r.json() == {"language": "en", "score": 0.98, "isTranslationSupported": True}
    r = api.get("/translate/support/language")
    assert r.status_code == 200 and r.json() == LANGUAGES
    assert_error(api.post("/translate", json={"text": "", "to": ["en"]}), 400, "Bad Request",
                 "An input text is missing or invalid")
    assert_error(api.post("/translate", json={"text": "x", "to": []}), 400, "Bad Request",
                 "The target language is missing or invalid")
    assert_error(api.post("/translate", json={"text": "x" * 2501, "to": ["a", "b", "c", "d"]}), 400, "Bad Request",
                 "The input text is too long")
    assert_error(api.post("/translate", json={"text": "break", "to": ["en"]}), 400, "Bad Request",
                 "InternalTranslateFailedException")
