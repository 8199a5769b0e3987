"""How a node logs: every line's level and format, set once at start (`configure`).

`log_level` is the least severe level written (DEBUG, INFO, WARNING, ERROR); `log_format` is
`text` (`time level logger: message`) or `json`, one JSON object per line with `time` (UTC,
ISO 8601), `level`, `logger`, `message`, the extra fields the line was logged with (`extra=`),
and `exception` when it carries a traceback. A worker of `hxim serve --workers N` names itself
on every line: `hxim[web1-2]: …` in text, `"node": "web1-2"` in JSON. uvicorn's own loggers
write through the same handler, at `warning` at least (its start-up chatter stays out); its
access log stays off; hxim's own access log is `http/access_log.py`. docs/operating.md
describes the lines.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

__all__ = ["JsonFormatter", "configure", "in_words", "level_of"]

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# what every LogRecord carries: anything else on a record came from `extra=`
_STANDARD = {*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


def level_of(name: str) -> int:
    """The logging level a `log_level` names, in any case."""
    return LEVELS[name.upper()]


class _Node(logging.Filter):
    """Gives every line the name of the node that writes it (`node`)."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "node"):
            record.node = self.node
        return True


def configure(level: str = "INFO", fmt: str = "text", node: str = "") -> None:
    """Send every logger's lines to standard error, at `level` and in format `fmt`; each line
    names `node` when it is given (a worker of `hxim serve --workers N`)."""
    handler = logging.StreamHandler()
    text = TEXT_FORMAT.replace("%(name)s:", "%(name)s[%(node)s]:") if node else TEXT_FORMAT
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(text))
    if node:
        handler.addFilter(_Node(node))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    threshold = level_of(level)
    root.setLevel(threshold)
    # migrations say what they do at info; uvicorn what it starts (the node says that itself)
    for name in ("alembic", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(max(threshold, logging.WARNING))


def in_words(seconds: float) -> str:
    """`3 h 2 min 5 s`, `12.5 s`: an uptime in words."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"
