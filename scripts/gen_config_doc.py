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

Every setting of hxim, with its default. Settings are read, in increasing priority, from:

1. the defaults below;
2. a TOML file: the one `--config FILE` names (it must exist), else the one the `HXIM_CONFIG`
   variable names, else `hxim.toml` in the working directory (those two are read when they exist);
3. `HXIM_*` environment variables: the setting `http_port` is `HXIM_HTTP_PORT`, and tables such
   as `rate_limits` take JSON (`HXIM_RATE_LIMITS='{"users": 30}'`);
4. command-line options: `--data-dir`, `--database-url`, `--log-level` on every command, and
   `--host` (both `http_host` and `xmpp_host`), `--port`, `--xmpp-port`, `--workers` on `hxim serve`.

Values are checked at start: each bad value or unknown key is named on its own line, with where
it came from (`hxim: HXIM_HTTP_PORT: "abc" is not an integer`, `hxim: unknown key "prot" in
hxim.toml`), and the command exits with code 1. `hxim config check` does the same checks without
starting anything, and lists the settings that differ from the defaults, where each comes from,
with secrets masked.

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
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret"):
            extra += " (a secret: `hxim config check` masks it)"
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
