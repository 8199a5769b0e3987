"""Translation: text translated, languages listed and detected by an engine of the operator's.

Easemob's message_translation_text, _language_list and _detect pages. No engine ships with
hxim: with `translation_url` empty every call is refused as a service that is not open
(`not_open`). With it set, hxim is a client of an HTTP engine at that base URL, which answers in
the pages' own shapes (those of the Azure translator Easemob uses), so that its answers are
passed on as they are:

- `POST {base}/translate` `{"from"?, "text", "to": [codes]}` -> `[{"translations": [{"text", "to"}]}]`
- `POST {base}/detect` `{"text"}` -> `{"language", "score", "isTranslationSupported"}`
- `GET {base}/languages` -> `[{"code", "name", "nativeName"}]`

An engine that fails (no answer within `translation_timeout_seconds`, a status other than 200,
an answer that is not JSON of that shape) is the pages' 400 "InternalTranslateFailedException".
A text is at most `translation_text_max_length` (10,000) characters times the number of target
languages.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from hxim import errors
from hxim.config import Settings

__all__ = ["HttpEngine", "TranslationEngine", "TranslationService", "not_open"]


def not_open() -> errors.HximError:
    """No engine: Easemob's "service not open", in 403 rather than its 503 (a refusal of this
    server's configuration, not a failure)."""
    return errors.HximError(403, "service_not_open", "service not open", None, "service-unavailable")


def engine_failed() -> errors.HximError:
    return errors.bad_request("InternalTranslateFailedException")


class TranslationEngine(Protocol):
    """What a translation engine does; each answer in the pages' shape."""

    async def translate(self, text: str, to: list[str], source: str | None) -> Any: ...
    async def detect(self, text: str) -> Any: ...
    async def languages(self) -> Any: ...


class HttpEngine:
    """An engine reached over HTTP at `base` (the module's contract)."""

    def __init__(self, base: str, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.request(method, self.base + path, json=body)
            if r.status_code != 200:
                raise engine_failed()
            return r.json()
        except (httpx.HTTPError, ValueError):
            raise engine_failed() from None

    async def translate(self, text: str, to: list[str], source: str | None) -> Any:
        body: dict[str, Any] = {"text": text, "to": to}
        if source:
            body["from"] = source
        found = await self._call("POST", "/translate", body)
        if not isinstance(found, list):
            raise engine_failed()
        return found

    async def detect(self, text: str) -> Any:
        found = await self._call("POST", "/detect", {"text": text})
        if not isinstance(found, dict):
            raise engine_failed()
        return found

    async def languages(self) -> Any:
        found = await self._call("GET", "/languages")
        if not isinstance(found, list):
            raise engine_failed()
        return found


class TranslationService:
    def __init__(self, settings: Settings, engine: TranslationEngine | None = None) -> None:
        self.settings = settings
        if engine is None and settings.translation_url:
            engine = HttpEngine(settings.translation_url, settings.translation_timeout_seconds)
        self.engine = engine

    def _engine(self) -> TranslationEngine:
        if self.engine is None:
            raise not_open()
        return self.engine

    def _text(self, text: Any, languages: int = 1) -> str:
        if not isinstance(text, str) or not text.strip():
            raise errors.bad_request("An input text is missing or invalid")
        if len(text) * languages > self.settings.translation_text_max_length:
            raise errors.bad_request("The input text is too long")
        return text

    async def translate(self, text: Any, to: Any, source: Any) -> Any:
        """`text` in each language of `to` (from `source`, or the language the engine detects)."""
        engine = self._engine()
        if not isinstance(to, list) or not to or not all(isinstance(t, str) and t for t in to):
            raise errors.bad_request("The target language is missing or invalid")
        if source is not None and not isinstance(source, str):
            raise errors.bad_request("The source language is invalid")
        return await engine.translate(self._text(text, len(to)), to, source or None)

    async def detect(self, text: Any) -> Any:
        engine = self._engine()
        return await engine.detect(self._text(text))

    async def languages(self) -> Any:
        return await self._engine().languages()
