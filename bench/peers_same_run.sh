#!/usr/bin/env bash
# Prosody, ejabberd and hxim under the same load in one pass (issue 5: "in the same run"):
# the shared harness (../shared/peers) from a private copy, one profile after the other, then
# one table from the three summaries.
#
#   bench/peers_same_run.sh [bench.sh options…]   e.g. bench/peers_same_run.sh --steps check,idle,ladder
#
# Needs Debian's prosody and ejabberd (apt-get install prosody ejabberd). Results go to
# bench/results/peers-samerun-STAMP/{prosody,ejabberd,hxim}/ and the table to its table.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
OUT="$ROOT/bench/results/peers-samerun-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
COPY=$(mktemp -d /tmp/hxim-peers.XXXXXX)
trap 'rm -rf "$COPY"' EXIT
cp -r "$PEERS/." "$COPY/"
rm -rf "$COPY/results/raw"
for profile in prosody ejabberd; do
    (cd "$COPY" && ./bench.sh --out "$OUT/$profile" "$@" "$profile")
done
HXIM_PEERS_OUT="$OUT/hxim" "$ROOT/bench/peers_hook.sh" "$@"
(cd "$COPY" && ./report.py "$OUT/prosody/summary.json" "$OUT/ejabberd/summary.json" "$OUT/hxim/summary.json") |
    tee "$OUT/table.md"
echo "results: $OUT"
