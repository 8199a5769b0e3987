#!/usr/bin/env bash
# Run slixmpp's own integration tests (the `itests/` modules of its source distribution) against a
# fresh hxim server, one module at a time, and print a table: module, outcome, reason.
#
#   scripts/slixmpp_itests.sh                 # every itests/test_*.py module
#   scripts/slixmpp_itests.sh test_muc test_vcard
#
# What it does:
#   - takes the itests of the slixmpp version installed in the venv (the source tarball of that
#     version, from `pip download slixmpp==X --no-binary :all:`, cached in $ITEST_CACHE);
#   - starts `hxim serve` in a temporary data dir, HTTP on a free port, XMPP with STARTTLS and a
#     self-signed certificate for `localhost` (the XMPP domain), on 5222 when that port is free
#     (the itests connect with `client.connect()`, i.e. to the domain's port 5222, and
#     test_tls_check asserts that port), else on a free port with ClientXMPP.default_port
#     pointed at it;
#   - creates the app `slixci#itests` (`hxim app create --json`), makes it the default app so
#     that bare JIDs `slixci1@localhost` work, and registers two users over REST;
#   - exports the variables of slixmpp/test/integration.py (CI_ACCOUNT1, CI_ACCOUNT1_PASSWORD,
#     CI_ACCOUNT2, CI_ACCOUNT2_PASSWORD, CI_MUC_SERVER) and SSL_CERT_FILE (slixmpp verifies the
#     certificate against the default verify paths, which that variable replaces);
#   - runs each module in its own process, under `timeout`, with a per-test time limit (the
#     itests wait for events without any timeout of their own);
#   - stops the server at exit. Slixmpp debug logs of each module and the server log stay in
#     $ITEST_LOGS (default: a new /tmp/hxim-slixmpp-itests-logs.* directory).
#
# Settings (environment): ITEST_VENV (default: .venv of this checkout), ITEST_CACHE (default:
# ~/.cache/hxim-slixmpp-itests), ITEST_TEST_TIMEOUT (seconds per test, 60;
# slixmpp's own wait_until gives up after 30), ITEST_MODULE_TIMEOUT
# (seconds per module, 240), ITEST_XMPP_PORT (force a port), ITEST_AIOHTTP=0 (do not fetch
# aiohttp, which test_httpupload and test_sos need, else they skip), ITEST_LOGS.
# HXIM_* variables of the caller are ignored: the server gets only the settings below.
# Exit status: 0 once the table is printed (whatever the outcomes), 2 when the setup failed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${ITEST_VENV:-$ROOT/.venv}
PY=$VENV/bin/python
HXIM=$VENV/bin/hxim
CACHE=${ITEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hxim-slixmpp-itests}
TEST_TIMEOUT=${ITEST_TEST_TIMEOUT:-60}
MODULE_TIMEOUT=${ITEST_MODULE_TIMEOUT:-240}
ORG=slixci
APP=itests
DOMAIN=localhost

die() { echo "slixmpp_itests: $*" >&2; exit 2; }
[ -x "$PY" ] && [ -x "$HXIM" ] || die "no venv with hxim at $VENV (set ITEST_VENV)"
command -v openssl >/dev/null || die "openssl is needed for the self-signed certificate"
command -v timeout >/dev/null || die "coreutils timeout is needed"

WORK=$(mktemp -d -t hxim-slixmpp-itests.XXXXXX)
LOGS=${ITEST_LOGS:-$(mktemp -d -t hxim-slixmpp-itests-logs.XXXXXX)}
mkdir -p "$LOGS" "$CACHE"
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [ -f "$WORK/server.log" ] && cp "$WORK/server.log" "$LOGS/server.log"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the itests of the installed slixmpp -----------------------------------------------------------
VERSION=$("$PY" -c 'import slixmpp; print(slixmpp.__version__)')
SDIST=$CACHE/slixmpp-$VERSION.tar.gz
if [ ! -s "$SDIST" ]; then
    echo "downloading the slixmpp $VERSION source distribution (for its itests/)"
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        -d "$CACHE" "slixmpp==$VERSION" >"$WORK/pip.log" 2>&1 ||
        { cat "$WORK/pip.log" >&2; die "pip download slixmpp==$VERSION failed"; }
fi
[ -s "$SDIST" ] || die "no $SDIST after pip download"
mkdir -p "$WORK/src"
tar -xzf "$SDIST" -C "$WORK/src" --strip-components=1 "slixmpp-$VERSION/itests"
SRC=$WORK/src

# aiohttp: test_httpupload and test_sos skip without it; installed beside the venv, never in it
# (run_one.py appends this directory to sys.path, so the venv's own packages win)
EXTRA_PATH=$CACHE/pydeps
if [ "${ITEST_AIOHTTP:-1}" != 0 ] && ! "$PY" -c 'import aiohttp' 2>/dev/null; then
    if ! PYTHONPATH=$EXTRA_PATH "$PY" -c 'import aiohttp' 2>/dev/null; then
        echo "installing aiohttp into $EXTRA_PATH (for test_httpupload and test_sos)"
        "$PY" -m pip install --quiet --disable-pip-version-check --target "$EXTRA_PATH" aiohttp \
            >"$WORK/pip.log" 2>&1 ||
            { cat "$WORK/pip.log" >&2; echo "warning: no aiohttp; test_httpupload and test_sos will skip" >&2; }
    fi
fi

# --- certificate, ports -----------------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN,IP:127.0.0.1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || die "openssl req failed"

free_port() {  # $1: a port to prefer when it is free
    "$PY" - "${1:-0}" <<'EOF'
import socket, sys
want = int(sys.argv[1])
for port in ([want] if want else []) + [0]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds (TIME_WAIT is fine)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    s.close()
    break
EOF
}
HTTP_PORT=$(free_port 0)
XMPP_PORT=${ITEST_XMPP_PORT:-$(free_port 5222)}

# --- server -----------------------------------------------------------------------------------------
SERVER_ENV=(
    HXIM_CONFIG="$WORK/none.toml"
    HXIM_DATA_DIR="$WORK/data"
    HXIM_HTTP_HOST=127.0.0.1
    HXIM_HTTP_PORT="$HTTP_PORT"
    HXIM_XMPP_HOST=127.0.0.1
    HXIM_XMPP_PORT="$XMPP_PORT"
    HXIM_XMPP_DOMAIN="$DOMAIN"
    HXIM_XMPP_TLS_CERT="$WORK/cert.pem"
    HXIM_XMPP_TLS_KEY="$WORK/key.pem"
    HXIM_DEFAULT_APP="$ORG#$APP"
    HXIM_LOGIN_FAILURES_PER_ADDRESS=1000000
    HXIM_LOGIN_FAILURES_PER_ACCOUNT=1000000
)
mapfile -t UNSET < <(env | sed -n 's/^\(HXIM_[A-Za-z0-9_]*\)=.*/-u\n\1/p')

cd "$WORK"
APP_JSON=$(env "${UNSET[@]}" "${SERVER_ENV[@]}" "$HXIM" app create "$ORG" "$APP" --json) || die "hxim app create failed"
# (env execs hxim: $! is the server itself)
env "${UNSET[@]}" "${SERVER_ENV[@]}" "$HXIM" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do
    grep -q "hxim listening on http" "$WORK/server.log" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "hxim serve exited"; }
    sleep 0.1
done
grep -q "hxim XMPP listening" "$WORK/server.log" || { cat "$WORK/server.log" >&2; die "no XMPP listener"; }
echo "hxim: http 127.0.0.1:$HTTP_PORT, XMPP (STARTTLS) 127.0.0.1:$XMPP_PORT, domain $DOMAIN, app $ORG#$APP"

# --- accounts over REST -----------------------------------------------------------------------------
PASS1=itest-pass-1
PASS2=itest-pass-2
APP_JSON=$APP_JSON "$PY" - "http://127.0.0.1:$HTTP_PORT/$ORG/$APP" "$PASS1" "$PASS2" <<'EOF' || die "account setup failed"
import json, os, sys, urllib.request
base, pass1, pass2 = sys.argv[1:]
creds = json.loads(os.environ["APP_JSON"])

def post(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)

token = post("/token", {"grant_type": "client_credentials", "client_id": creds["client_id"],
                        "client_secret": creds["client_secret"]})["access_token"]
made = post("/users", [{"username": "slixci1", "password": pass1}, {"username": "slixci2", "password": pass2}], token)
print("registered:", ", ".join(e["username"] for e in made["entities"]))
EOF

export CI_ACCOUNT1=slixci1@$DOMAIN CI_ACCOUNT1_PASSWORD=$PASS1
export CI_ACCOUNT2=slixci2@$DOMAIN CI_ACCOUNT2_PASSWORD=$PASS2
export CI_MUC_SERVER=conference.$DOMAIN
export SSL_CERT_FILE=$WORK/cert.pem
export ITEST_XMPP_PORT_USED=$XMPP_PORT ITEST_TEST_TIMEOUT=$TEST_TIMEOUT ITEST_EXTRA_PATH=$EXTRA_PATH
unset CI  # test_component runs only with CI=woodpecker (a Prosody component port)

# --- the runner of one module -----------------------------------------------------------------------
cat >"$SRC/run_one.py" <<'EOF'
"""Run one itests module; write `outcome<TAB>counts<TAB>reason` to argv[2], details to stdout.

Harness only: the tests are not changed. Each async setUp/test/cleanup gets a time limit
(ITEST_TEST_TIMEOUT), ClientXMPP.default_port follows the server when it is not on 5222, and a
timeout names the event waited for and the last error stanza the clients received."""
import asyncio, importlib, inspect, logging, os, sys, unittest
from unittest import IsolatedAsyncioTestCase

module_name, out_path, log_path = sys.argv[1:4]
LIMIT = float(os.environ["ITEST_TEST_TIMEOUT"])
PORT = int(os.environ["ITEST_XMPP_PORT_USED"])
if os.environ.get("ITEST_EXTRA_PATH"):
    sys.path.append(os.environ["ITEST_EXTRA_PATH"])

import slixmpp.clientxmpp
import slixmpp.xmlstream.xmlstream

ERRORS = []  # error stanzas the clients received, one line each, for the reasons of timeouts

def _note_error(stanza):
    try:
        if stanza.name in ("iq", "message", "presence") and stanza["type"] == "error":
            err = stanza["error"]
            text = f" '{err['text']}'" if err["text"] else ""
            ERRORS.append(f"{stanza.name} error {err['condition']}{text} from {stanza['from'] or 'the server'}")
    except Exception:
        pass
    return stanza

_init = slixmpp.clientxmpp.ClientXMPP.__init__
def _init_client(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    if PORT != 5222:
        self.default_port = PORT
    self.add_filter("in", _note_error)
slixmpp.clientxmpp.ClientXMPP.__init__ = _init_client

def _last_error(since):
    return f"; last error stanza: {ERRORS[-1]}" if len(ERRORS) > since else ""

# the itests wait for events with wait_until (30 s by default): name the event when it times out
_wait_until = slixmpp.xmlstream.xmlstream.XMLStream.wait_until
async def _wait_until_named(self, event, timeout=30):
    since = len(ERRORS)
    try:
        return await _wait_until(self, event, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"no '{event}' event within {timeout:g}s{_last_error(since)}") from None
slixmpp.xmlstream.xmlstream.XMLStream.wait_until = _wait_until_named

def _bounded(func):
    async def run(*args, **kwargs):
        since = len(ERRORS)
        try:
            return await asyncio.wait_for(func(*args, **kwargs), LIMIT)
        except asyncio.TimeoutError as exc:
            if str(exc):  # a timeout of the test's own (above), not ours
                raise
            name = getattr(func, "__name__", func)
            raise TimeoutError(f"{name} still waiting after {LIMIT:g}s{_last_error(since)}") from None
    return run

_call_async, _call_maybe = IsolatedAsyncioTestCase._callAsync, IsolatedAsyncioTestCase._callMaybeAsync
IsolatedAsyncioTestCase._callAsync = lambda self, f, /, *a, **k: _call_async(self, _bounded(f), *a, **k)
IsolatedAsyncioTestCase._callMaybeAsync = lambda self, f, /, *a, **k: _call_maybe(
    self, _bounded(f) if inspect.iscoroutinefunction(f) else f, *a, **k)

logging.basicConfig(filename=log_path, level=logging.DEBUG, force=True,
                    format="%(asctime)s %(levelname)s %(name)s %(message)s")

def reason(err):
    exc = err[1]
    iq = getattr(exc, "iq", None)
    if iq is not None:
        try:
            cond, text = iq["error"]["condition"], iq["error"]["text"]
            kind = "IqTimeout" if type(exc).__name__ == "IqTimeout" else f"IqError {cond}"
            return f"{kind}{': ' + text if text else ''} (from {iq['from'] or 'the server'})"
        except Exception:
            pass
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()

def done(outcome, counts, why):
    with open(out_path, "w") as f:
        f.write(f"{outcome}\t{counts}\t{' '.join(why.split())[:400]}\n")

try:
    module = importlib.import_module("itests." + module_name)
    suite = getattr(module, "suite", None) or unittest.defaultTestLoader.loadTestsFromModule(module)
except Exception as exc:  # an import error is the module's outcome
    done("error", "0/0", f"import: {type(exc).__name__}: {exc}")
    raise

REASONS = {}  # test id -> one-line reason (TextTestResult keeps only formatted tracebacks)

class Result(unittest.TextTestResult):
    since = 0

    def startTest(self, test):
        self.since = len(ERRORS)
        super().startTest(test)

    def _keep(self, test, err):
        why = reason(err)
        if not why.startswith(("IqError", "TimeoutError")):  # those name their stanza already
            why += _last_error(self.since)
        REASONS[test.id()] = why

    def addError(self, test, err):
        self._keep(test, err)
        super().addError(test, err)

    def addFailure(self, test, err):
        self._keep(test, err)
        super().addFailure(test, err)

result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result).run(suite)
run, skipped = result.testsRun, len(result.skipped)
problems = {}  # one entry per test, though a test may both fail and err in its cleanup
for kind, listed in (("error", result.errors), ("fail", result.failures)):
    for t, _ in listed:
        problems.setdefault(t.id(), (t, kind))
problems = list(problems.values())
passed = run - skipped - len(problems) - len(result.expectedFailures) - len(result.unexpectedSuccesses)
counts = f"{passed}/{run - skipped}" + (f" +{skipped} skip" if skipped else "")
if not problems:
    outcome = "skip" if run == skipped else "pass"
    done(outcome, counts, result.skipped[0][1] if outcome == "skip" else "")
    sys.exit(0)
reasons = [f"{getattr(t, '_testMethodName', t)}: {REASONS.get(t.id(), kind)}" for t, kind in problems]
done("error" if result.errors else "fail", counts, "; ".join(reasons))
EOF
# --- run ------------------------------------------------------------------------------------------
if [ $# -gt 0 ]; then
    MODULES=("${@%.py}")
    MODULES=("${MODULES[@]#itests/}")
else
    mapfile -t MODULES < <(cd "$SRC/itests" && ls test_*.py | sed 's/\.py$//' | sort)
fi
RESULTS=$WORK/results.tsv
: >"$RESULTS"
START=$SECONDS
for mod in "${MODULES[@]}"; do
    [ -f "$SRC/itests/$mod.py" ] || { printf '%s\terror\t0/0\tno such module\n' "$mod" >>"$RESULTS"; continue; }
    t0=$SECONDS
    rm -f "$WORK/one.out"
    (cd "$SRC" && timeout -k 10 "$MODULE_TIMEOUT" "$PY" run_one.py "$mod" "$WORK/one.out" "$LOGS/$mod.log") \
        >"$LOGS/$mod.out" 2>&1 || true
    if [ -s "$WORK/one.out" ]; then
        IFS=$'\t' read -r outcome counts why <"$WORK/one.out"
    else
        outcome=error counts=? why="runner died or module timed out after ${MODULE_TIMEOUT}s: $(tail -n 1 "$LOGS/$mod.out" | cut -c1-120)"
    fi
    printf '%s\t%s\t%s\t%s\n' "$mod" "$outcome" "$counts" "$why" >>"$RESULTS"
    printf '  %-32s %-5s %3ss\n' "$mod" "$outcome" "$((SECONDS - t0))"
done

echo
printf '%-32s %-6s %-12s %s\n' module result tests reason
printf '%-32s %-6s %-12s %s\n' ------ ------ ----- ------
while IFS=$'\t' read -r mod outcome counts why; do
    printf '%-32s %-6s %-12s %s\n' "$mod" "$outcome" "$counts" "$why"
done <"$RESULTS"
total=$(wc -l <"$RESULTS")
n_pass=$(awk -F'\t' '$2=="pass"' "$RESULTS" | wc -l)
n_skip=$(awk -F'\t' '$2=="skip"' "$RESULTS" | wc -l)
n_fail=$(awk -F'\t' '$2=="fail"' "$RESULTS" | wc -l)
n_err=$(awk -F'\t' '$2=="error"' "$RESULTS" | wc -l)
tests=$(awk -F'\t' '{split($3, c, "[/ ]"); p += c[1]; n += c[2]; if ($3 ~ /skip/) s += c[3] + 0}
                     END {printf "%d of %d tests passed, %d skipped", p, n, s}' "$RESULTS")
echo
echo "slixmpp $VERSION itests against hxim: $n_pass of $total modules passed ($n_fail failed, $n_err errors, $n_skip skipped); $tests; $((SECONDS - START))s"
echo "logs: $LOGS (server.log, <module>.out unittest output, <module>.log slixmpp debug log)"
