#!/usr/bin/env bash
# Prosody, ejabberd and hxim under the same load in one pass:
# the shared harness (../shared/peers) from a private copy, one profile after the other, then
# one table from the three summaries.
#
#   bench/peers_same_run.sh [bench.sh options…]   e.g. bench/peers_same_run.sh --steps check,idle,ladder
#
# Needs Debian's prosody and ejabberd (apt-get install prosody ejabberd). Results go to
# bench/results/peers-samerun-STAMP/{prosody,ejabberd,hxim}/ and the table to its table.md.
#
# The harness configures both peers to store passwords in plain text (ejabberd's
# `auth_password_format: plain`, "so that SASL PLAIN is cheap"), while hxim stores only salted
# SCRAM keys and must run PBKDF2 (4,096 iterations) for every PLAIN login. With PEERS_SCRAM=1 the
# pass adds a profile `ejabberd-scram`: the same ejabberd storing SCRAM keys, the like-for-like
# reference for logins/s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
OUT="$ROOT/bench/results/peers-samerun-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
COPY=$(mktemp -d /tmp/hxim-peers.XXXXXX)
trap 'rm -rf "$COPY"' EXIT
cp -r "$PEERS/." "$COPY/"
rm -rf "$COPY/results/raw"
# the probe runs on uvloop when the harness has a .venv with it (its README): lend it ours
[ -e "$COPY/.venv" ] || ln -s "$ROOT/.venv" "$COPY/.venv"
profiles=(prosody ejabberd)
if [ "${PEERS_SCRAM:-0}" = 1 ]; then
    cp -r "$COPY/servers/ejabberd" "$COPY/servers/ejabberd-scram"
    sed -i 's/^auth_password_format: plain/auth_password_format: scram/' "$COPY/servers/ejabberd-scram/ejabberd.yml.in"
    grep -q '^auth_password_format: scram' "$COPY/servers/ejabberd-scram/ejabberd.yml.in"
    profiles+=(ejabberd-scram)
fi
for profile in "${profiles[@]}"; do
    (cd "$COPY" && ./bench.sh --out "$OUT/$profile" "$@" "$profile")
done
HXIM_PEERS_OUT="$OUT/hxim" "$ROOT/bench/peers_hook.sh" "$@"
summaries=()
for profile in "${profiles[@]}" hxim; do summaries+=("$OUT/$profile/summary.json"); done
(cd "$COPY" && ./report.py "${summaries[@]}") |
    tee "$OUT/table.md"
echo "results: $OUT"
