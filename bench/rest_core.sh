#!/usr/bin/env bash
# Benchmark of the Easemob REST core, with the same load the peers were measured with.
#
# Starts one `hxim serve` pinned to CPU 0 on a fresh data directory (SQLite by default, or
# PostgreSQL with --pg URL), creates an app, and drives it with the shared harness
# ../shared/rest-peers/bench_rest.sh --shape easemob (wrk pinned to CPU 1). Results: the
# harness prints a median table; this script copies it to bench/results/NAME.md.
#
# Two steps are hxim's own, beyond the peers' load, from bench/rest_extra_ops.lua (added to a copy
# of the harness's rest.lua): send_users (POST /messages/users) and get_metadata
# (GET /metadata/user/{u}, user attributes; the seeded accounts u1..u2000 get three attributes
# each first).
#
# usage: bench/rest_core.sh [--pg postgresql://postgres@127.0.0.1/DB] [--name NAME]
#                           [--ops "register_batch get_user add_friend send_message offline_count
#                                   send_users get_metadata"]
#                           [--conns "16"] [--duration 10] [--reps 3] [--batch 60]
# needs: wrk (apt-get install wrk), the repo's .venv, ../shared beside the repo.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$ROOT/../shared" && pwd)
PG="" NAME="" OPS="register_batch get_user add_friend send_message offline_count send_users get_metadata"
CONNS=16 DURATION=10 REPS=3 BATCH=60 PORT=35380 NUSERS=2000
while [ $# -gt 0 ]; do
    case "$1" in
    --pg) PG=$2; shift ;;
    --name) NAME=$2; shift ;;
    --ops) OPS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --batch) BATCH=$2; shift ;;
    --port) PORT=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$NAME" ] || NAME=hxim-$([ -n "$PG" ] && echo postgresql || echo sqlite)
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
WORK=$(mktemp -d /tmp/hxim-bench.XXXXXX)
# The harness, as shipped, stops under `set -e` when --url is given (its setup block ends in
# `[ -n "$WORK" ] && ...`, false without a local ejabberd). Run a copy with that line made
# neutral, beside links to the rest of the harness, so that nothing in ../shared changes.
mkdir -p "$WORK/harness/rest-peers"
ln -s "$SHARED/peers" "$WORK/harness/peers"
for f in seed.py measure.py summarize.py results; do
    ln -s "$SHARED/rest-peers/$f" "$WORK/harness/rest-peers/$f"
done
# rest.lua with the operations of today's API (bench/rest_extra_ops.lua) added to its builders
awk -v extra="$ROOT/bench/rest_extra_ops.lua" \
    '/^function request\(\)/ { while ((getline line < extra) > 0) print line; print "" } { print }' \
    "$SHARED/rest-peers/rest.lua" >"$WORK/harness/rest-peers/rest.lua"
sed 's/^    \[ -n "\$WORK" \] && \(echo "server: .*\)$/    if [ -n "$WORK" ]; then \1; fi/' \
    "$SHARED/rest-peers/bench_rest.sh" >"$WORK/harness/rest-peers/bench_rest.sh"
HARNESS=$WORK/harness/rest-peers/bench_rest.sh
export HXIM_DATA_DIR=$WORK/data HXIM_HTTP_HOST=127.0.0.1 HXIM_HTTP_PORT=$PORT HXIM_CONFIG=$WORK/none.toml
[ -n "$PG" ] && export HXIM_DATABASE_URL=$PG
HXIM=$ROOT/.venv/bin/hxim
creds=$("$HXIM" app create bench im --json 2>/dev/null)
taskset -c 0 "$HXIM" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done
TOKEN=$(CREDS=$creds "$ROOT/.venv/bin/python" - <<PY
import json, os, urllib.request
c = json.loads(os.environ["CREDS"])
body = json.dumps({"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"]})
req = urllib.request.Request("http://127.0.0.1:$PORT/bench/im/token", data=body.encode())
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
)
echo "hxim pid $PID on $(nproc) cores, server pinned to CPU 0; data in $WORK" >&2
case " $OPS " in
*" get_metadata "*)  # the accounts first (the harness's seeding then finds them), then their attributes
    "$ROOT/.venv/bin/python" "$SHARED/rest-peers/seed.py" --shape easemob --url "http://127.0.0.1:$PORT" \
        --org bench --app im --token "$TOKEN" --nusers "$NUSERS" >&2
    TOKEN=$TOKEN NUSERS=$NUSERS "$ROOT/.venv/bin/python" - <<PY
import http.client, os
conn = http.client.HTTPConnection("127.0.0.1", $PORT, timeout=30)
headers = {"Authorization": "Bearer " + os.environ["TOKEN"], "Content-Type": "application/x-www-form-urlencoded"}
for i in range(1, int(os.environ["NUSERS"]) + 1):
    body = f"nickname=user%20{i}&avatarurl=https://example.com/avatar/{i}.png&ext=bench"
    conn.request("PUT", f"/bench/im/metadata/user/u{i}", body, headers)
    r = conn.getresponse()
    r.read()
    assert r.status == 200, (i, r.status)
PY
    ;;
esac
bash "$HARNESS" --shape easemob --url "http://127.0.0.1:$PORT" --org bench --app im --token "$TOKEN" \
    --server-pid "$PID" --name "$NAME" --ops "$OPS" --conns "$CONNS" --duration "$DURATION" \
    --reps "$REPS" --batch "$BATCH" --nusers "$NUSERS"
mkdir -p "$ROOT/bench/results"
cp "$SHARED/rest-peers/results/$NAME.md" "$ROOT/bench/results/$NAME.md"
echo "table copied to bench/results/$NAME.md" >&2
