#!/usr/bin/env bash
# Run the shared peer harness (../shared/peers, see its README.md) against hxim through its
# generic hook: the same load Prosody and ejabberd were measured with.
#
#   bench/peers_hook.sh [bench.sh options…]      e.g. bench/peers_hook.sh --steps idle,ladder
#
# The server is `hxim serve` on the harness's host, port and domain, with its data in the
# harness's work dir, plain-text c2s with SASL PLAIN, no stanza rate limit and HTTP on a free
# port; users come from the harness's users.txt through `hxim user import` (they log in as
# `{username}@domain`, users of the default app). The harness runs from a private copy (nothing
# under ../shared is written); its results are copied to bench/results/peers-hxim-*/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
HXIM="$ROOT/.venv/bin/hxim"
HTTP_PORT=${HXIM_BENCH_HTTP_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
ENVS="HXIM_CONFIG=\$BENCH_WORKDIR/none.toml HXIM_DATA_DIR=\$BENCH_WORKDIR/data HXIM_HTTP_HOST=127.0.0.1 \
HXIM_HTTP_PORT=$HTTP_PORT HXIM_XMPP_HOST=\$BENCH_HOST HXIM_XMPP_PORT=\$BENCH_PORT HXIM_XMPP_DOMAIN=\$BENCH_DOMAIN \
HXIM_XMPP_ALLOW_PLAINTEXT=true HXIM_XMPP_FLOOD_RATE=0"
export SERVER_CMD="env $ENVS $HXIM serve"
export SERVER_USERS_CMD="env $ENVS $HXIM user import"
export SERVER_VERSION="hxim $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo dev) (Python $("$ROOT/.venv/bin/python" -c 'import platform; print(platform.python_version())'), uvloop, SQLite)"
COPY=$(mktemp -d /tmp/hxim-peers.XXXXXX)
trap 'rm -rf "$COPY"' EXIT
cp -r "$PEERS/." "$COPY/"
rm -rf "$COPY/results/raw"
# the probe runs on uvloop when the harness has a .venv with it (its README): lend it ours
[ -e "$COPY/.venv" ] || ln -s "$ROOT/.venv" "$COPY/.venv"
OUT=${HXIM_PEERS_OUT:-$ROOT/bench/results/peers-hxim-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
cd "$COPY"
./bench.sh --out "$OUT" "$@" generic
echo "results: $OUT"
