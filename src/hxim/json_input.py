"""JSON that a caller sent: decoded once, with the limits every surface applies.

Every surface that reads JSON from outside (the three HTTP faces' request bodies, an Easemob JSON
`<body>` over XMPP) decodes it here, and turns `JsonRejected` into a bad-input answer in its own
format. Beyond well-formedness, two rules:

* **Depth**: objects and arrays nested deeper than `json_max_depth` are refused. Deeper documents
  cannot be stored (the encoder stops at 254 levels) and buy nothing.
* **No U+0000**: a string holding the NUL character is refused. No Easemob field gives it a
  meaning, PostgreSQL's text columns cannot hold it, and XML cannot carry it. (Other control
  characters are accepted; an XMPP client is shown each as U+FFFD, see `xmpp.stanza`.)

Both checks cost nothing on ordinary input: they walk the decoded document only when the raw text
holds the escape `\\u0000`, or more brackets than the depth limit.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JsonRejected", "loads"]


class JsonRejected(ValueError):
    """Input that is not acceptable JSON; `reason` is `syntax`, `depth` or `nul`."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


def loads(raw: bytes | str, max_depth: int) -> Any:
    """Decode `raw`, or raise `JsonRejected` saying why not (in words a caller can act on)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise JsonRejected("syntax", f"the body is not valid JSON: {exc}") from None
    if isinstance(raw, bytes):
        brackets, nul = raw.count(b"{") + raw.count(b"["), b"\\u0000" in raw
    else:
        brackets, nul = raw.count("{") + raw.count("["), "\\u0000" in raw
    if brackets > max_depth and _too_deep(doc, max_depth):
        raise JsonRejected("depth", f"JSON nested deeper than {max_depth} levels is not accepted")
    if nul and _holds_nul(doc):
        raise JsonRejected("nul", "a string holds the character U+0000 (NUL), which is not accepted")
    return doc


def _too_deep(doc: Any, max_depth: int) -> bool:
    """Whether containers nest deeper than `max_depth` (a top-level object is depth 1)."""
    level = [doc] if isinstance(doc, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        below: list[Any] = []
        for item in level:
            values = item.values() if isinstance(item, dict) else item
            below.extend(v for v in values if isinstance(v, dict | list))
        level = below
    return False


def _holds_nul(doc: Any) -> bool:
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
