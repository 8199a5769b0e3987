"""Write docs/configuration.md from the Settings model (run after adding a setting).

usage: .venv/bin/python scripts/gen_config_doc.py [--check]
With --check, exit 1 when the committed file differs from what would be written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hxim.config import Settings  # noqa: E402

HEADER = """# Configuration

Every setting of hxim, with its default. Settings are read, in increasing priority, from the
defaults below, from `hxim.toml` in the working directory (or the file named by the
`HXIM_CONFIG` variable), and from `HXIM_*` environment variables: the setting `http_port` is
`HXIM_HTTP_PORT`, and tables such as `rate_limits` take JSON (`HXIM_RATE_LIMITS='{"users": 30}'`).
Values are checked at start; a setting out of its bounds stops the server with a message naming it.

Example `hxim.toml`:

```toml
http_port = 8080
database_url = "postgresql://hxim@127.0.0.1/hxim"
token_ttl_seconds = 604800

[rate_limits]
users = 100
messages = 100
```

This page is generated from `src/hxim/config.py` by `scripts/gen_config_doc.py`.

| setting | environment variable | default | meaning |
|---|---|---|---|
"""


def _default(field: Any) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default
    if value == "" or value is None:
        return "(empty)"
    return f"`{value}`"


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        bounds = [f"{k} {v}" for k, v in (("≥", _meta(field, "ge")), ("≤", _meta(field, "le"))) if v is not None]
        extra = f" ({', '.join(bounds)})" if bounds else ""
        rows.append(f"| `{name}` | `HXIM_{name.upper()}` | {_default(field)} | {field.description or ''}{extra} |")
    return HEADER + "\n".join(rows) + "\n"


def _meta(field: Any, key: str) -> Any:
    for item in field.metadata:
        if hasattr(item, key):
            return getattr(item, key)
    return None


def main() -> int:
    target = ROOT / "docs" / "configuration.md"
    text = render()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print("docs/configuration.md is out of date: run scripts/gen_config_doc.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
