"""The `hxim` command as a user runs it: a subprocess in a fresh directory, real files, real SQLite,
a real PostgreSQL; every failure one line on stderr with its exit code, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from conftest import BACKENDS, PG_ADMIN_URL, _drop_pg, _pg_database, free_port, run_on_terminal, serve

_SCRIPT = Path(sys.executable).with_name("hxim")  # the console script pip installed
HXIM = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "hxim"]


class Home:
    """A user's fresh home and working directory, with no HXIM_* variable set."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HXIM_")}
        self.env.pop("STATE_DIRECTORY", None)
        self.env.update(HOME=str(tmp / "home"), XDG_DATA_HOME=str(tmp / "xdg"), HXIM_SCRAM_ITERATIONS="4096")
        self.data = tmp / "xdg" / "hxim"  # the default data directory of this user

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HXIM, *args], env={**self.env, **(env or {})}, cwd=cwd or self.cwd, capture_output=True, text=True,
            timeout=120,
        )


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def fails(r: subprocess.CompletedProcess[str], code: int, *lines: str) -> None:
    """The command exited with `code` and said exactly `lines` on stderr, without a traceback."""
    assert (r.returncode, r.stderr) == (code, "".join(f"{line}\n" for line in lines)), (r.returncode, r.stderr)
    assert "Traceback" not in r.stdout


def test_version(home: Home) -> None:
    r = home.run("--version")
    assert (r.returncode, r.stdout) == (0, f"hxim {version('hxim')}\n")


# --- settings ------------------------------------------------------------------------------------


def test_config_check_names_every_bad_key_and_value(home: Home) -> None:
    (home.cwd / "hxim.toml").write_text('prot = 5280\nhttp_port = 70000\nsqlite_synchronous = "SLOW"\n')
    r = home.run("config", "check", env={"HXIM_XMPP_PORT": "abc", "HXIM_RATE_LIMITS": "users=3"})
    fails(
        r, 1,
        'hxim: HXIM_RATE_LIMITS: "users=3" is not JSON (lists and tables are written as JSON, e.g. ["PLAIN"] or '
        '{"users": 30})',
        "hxim: http_port in hxim.toml: 70000 is out of range (0 to 65535)",
        'hxim: HXIM_XMPP_PORT: "abc" is not an integer',
        'hxim: sqlite_synchronous in hxim.toml: "SLOW" is not one of OFF, NORMAL, FULL, EXTRA',
        'hxim: unknown key "prot" in hxim.toml',
    )
    assert r.stdout == ""


def test_config_check_shows_what_differs_and_where_it_comes_from(home: Home) -> None:
    config = home.root / "etc" / "hxim.toml"
    config.parent.mkdir()
    config.write_text('http_port = 8080\nxmpp_domain = "im.example.com"\nupstream_client_secret = "s3cret"\n')
    env = {"HXIM_HTTP_PORT": "8081", "HXIM_DATABASE_URL": "postgresql://hxim:pa55@db.example.com/hxim"}
    r = home.run("config", "check", "--config", str(config), "--port", "8082", env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout == (
        f"config file: {config}\n"
        "settings that differ from the defaults:\n"
        "  http_port = 8082  (--port)\n"
        f'  xmpp_domain = "im.example.com"  (xmpp_domain in {config})\n'
        '  database_url = "postgresql://hxim:********@db.example.com/hxim"  (HXIM_DATABASE_URL)\n'
        f'  upstream_client_secret = "********"  (upstream_client_secret in {config})\n'
        "the settings are valid\n"
    )
    assert "pa55" not in r.stdout and "s3cret" not in r.stdout
    # without the option the variable wins, without the variable the file
    r = home.run("--config", str(config), "config", "check", env=env)
    assert "  http_port = 8081  (HXIM_HTTP_PORT)\n" in r.stdout
    r = home.run("config", "check", "--config", str(config))
    assert f"  http_port = 8080  (http_port in {config})\n" in r.stdout
    assert f"data directory: {home.data} (the default for a user)\n" in r.stdout


def test_defaults_check_out_and_an_unknown_variable_is_pointed_at(home: Home) -> None:
    r = home.run("config", "check", env={"HXIM_HTTP_PROT": "8080"})
    assert r.returncode == 0
    assert r.stderr == 'hxim: warning: HXIM_HTTP_PROT is not a setting (ignored) (did you mean "HXIM_HTTP_PORT"?)\n'
    assert r.stdout == (
        "config file: none\n"
        f"data directory: {home.data} (the default for a user)\n"
        "every setting has its default\n"
        "the settings are valid\n"
    )


def test_a_missing_config_file_is_named_before_or_after_the_command(home: Home) -> None:
    fails(home.run("--config", "nope.toml", "app", "list"), 1, "hxim: config file nope.toml not found")
    fails(home.run("app", "list", "--config", "nope.toml"), 1, "hxim: config file nope.toml not found")
    (home.cwd / "broken.toml").write_text("http_port = \n")
    fails(
        home.run("config", "check", "--config", "broken.toml"), 1,
        "hxim: broken.toml is not valid TOML: invalid value (at line 1, column 13)",
    )


def test_a_bad_value_stops_serve_in_one_line(home: Home) -> None:
    fails(home.run("serve", env={"HXIM_HTTP_PORT": "abc"}), 1, 'hxim: HXIM_HTTP_PORT: "abc" is not an integer')
    fails(home.run("serve", "--port", "-1"), 1, 'hxim: --port: "-1" is out of range (0 to 65535)')
    assert not home.data.exists()


# --- the data directory --------------------------------------------------------------------------


def test_management_commands_never_create_a_database(home: Home) -> None:
    missing = f"no hxim database at {home.data / 'hxim.sqlite3'}"
    hint = "(start the server once with hxim serve, or pass --data-dir)"
    fails(home.run("app", "list"), 3, f"hxim: {missing} {hint}")
    fails(home.run("app", "token", "acme", "chat"), 3, f"hxim: {missing} {hint}")
    other = home.root / "elsewhere"
    fails(home.run("user", "import", "users.txt", "--data-dir", str(other)), 3,
          f"hxim: no hxim database at {other / 'hxim.sqlite3'} {hint}")
    assert not home.data.exists() and not other.exists() and list(home.cwd.iterdir()) == []


def test_serve_keeps_its_data_in_the_users_data_directory(home: Home) -> None:
    """README's first command, `hxim serve`, with nothing configured: the data goes to
    ~/.local/share/hxim (XDG_DATA_HOME), wherever it is started from; the other commands find it."""
    port = free_port()
    log = home.root / "serve.log"
    proc = serve({**home.env, "HXIM_HTTP_HOST": "127.0.0.1", "HXIM_HTTP_PORT": str(port)}, f"http://127.0.0.1:{port}",
                 log, cwd=home.cwd)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code < 500
    finally:
        proc.terminate()
        proc.wait(15)
    out = log.read_text()
    assert f"hxim data directory: {home.data} (the default for a user)\n" in out, out
    assert "created the default app" in out and "app hxim#default" in out
    assert (home.data / "hxim.sqlite3").is_file() and list(home.cwd.iterdir()) == []
    r = home.run("app", "list", "--json", cwd=home.root)
    assert r.returncode == 0 and [a["appkey"] for a in json.loads(r.stdout)] == ["hxim#default"], r.stderr


def test_an_existing_hxim_data_in_the_current_directory_is_still_used(home: Home) -> None:
    legacy = home.cwd / "hxim-data"
    legacy.mkdir()
    r = home.run("app", "create", "acme", "chat", "--json")
    notice = (f"hxim: data directory {legacy} (./hxim-data, found in the current directory; set data_dir to keep it "
              "when starting elsewhere)\n")
    assert r.returncode == 0 and r.stderr == notice, r.stderr
    assert (legacy / "hxim.sqlite3").is_file() and not home.data.exists()
    r = home.run("app", "list", "--json", "--data-dir", str(legacy), cwd=home.root)
    assert r.returncode == 0 and [a["appkey"] for a in json.loads(r.stdout)] == ["acme#chat"], r.stderr


# --- listeners -------------------------------------------------------------------------------------


def test_a_port_in_use_is_one_line(home: Home) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = home.run("serve", "--host", "127.0.0.1", "--port", str(port))
        fails(r, 4, f"hxim: cannot listen on 127.0.0.1:{port} (HTTP): address already in use; choose another port "
                    "with --port")
        r = home.run("serve", "--host", "127.0.0.1", "--port", "0", "--xmpp-port", str(port),
                     env={"HXIM_XMPP_ALLOW_PLAINTEXT": "true", "HXIM_LOG_LEVEL": "error"})
        fails(r, 4, f"hxim: cannot listen on 127.0.0.1:{port} (XMPP): address already in use; choose another port "
                    "with --xmpp-port")


def test_an_unexpected_error_is_one_line_unless_debugging(home: Home) -> None:
    cert = home.root / "cert.pem"
    cert.write_text("not a certificate\n")
    env = {"HXIM_XMPP_TLS_CERT": str(cert), "HXIM_XMPP_TLS_KEY": str(cert), "HXIM_LOG_LEVEL": "ERROR"}
    args = ("serve", "--host", "127.0.0.1", "--port", "0", "--xmpp-port", "0")
    r = home.run(*args, env=env)
    assert r.returncode == 70 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("hxim: unexpected error: SSLError: ")
    assert r.stderr.endswith(" (run with --debug for details)\n") and "Traceback" not in r.stderr
    for debug in (["--debug"], []):
        r = home.run(*args, *debug, env={**env, **({} if debug else {"HXIM_DEBUG": "1"})})
        assert r.returncode == 70 and "Traceback (most recent call last)" in r.stderr and "ssl" in r.stderr


# --- PostgreSQL ------------------------------------------------------------------------------------


def test_unreachable_postgresql(home: Home) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://hxim@127.0.0.1:{port}/hxim"
    line = f"hxim: cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused"
    fails(home.run("app", "list", "--database-url", url), 3, line)
    fails(home.run("serve", "--host", "127.0.0.1", "--port", "0", env={"HXIM_DATABASE_URL": url}), 3, line)
    fails(home.run("migrate", "--database-url", url), 3, line)


needs_pg = pytest.mark.skipif("postgresql" not in BACKENDS, reason="HXIM_TEST_BACKENDS leaves PostgreSQL out")


@needs_pg
@pytest.mark.postgres
def test_postgresql_refusing_the_login_and_a_database_never_migrated(home: Home) -> None:
    server = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = server.partition(":")
    where = f"{host}:{port or 5432}"
    r = home.run("app", "list", "--database-url", f"postgresql://nobody_hxim@{server}/test")
    fails(r, 3, f'hxim: PostgreSQL at {where} refused the connection: role "nobody_hxim" does not exist')
    r = home.run("app", "list", "--database-url", f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/no_such_hxim_db")
    fails(r, 3, f'hxim: PostgreSQL at {where} refused the connection: database "no_such_hxim_db" does not exist')
    name, url = _pg_database()
    try:
        env = {"HXIM_DATABASE_URL": url}
        fails(home.run("app", "list", env=env), 3,
              f"hxim: no hxim database at {url} (start the server once with hxim serve, or run hxim migrate)")
        r = home.run("migrate", env=env)
        assert (r.returncode, r.stdout) == (0, f"database at {url} is up to date\n"), r.stderr
        assert home.run("app", "create", "acme", "chat", env=env).returncode == 0
        r = home.run("app", "list", "--json", env=env)
        assert [a["appkey"] for a in json.loads(r.stdout)] == ["acme#chat"]
    finally:
        _drop_pg(name)
    assert not home.data.exists()


# --- user import -----------------------------------------------------------------------------------


def _with_app(home: Home) -> None:
    r = home.run("app", "create", "acme", "chat")
    assert r.returncode == 0, r.stderr


def test_user_import_checks_the_whole_file_before_importing(home: Home) -> None:
    _with_app(home)
    users = home.cwd / "users.txt"
    users.write_text("# name password\nalice pw1\nbob\tpw two\n\nBad! pw\ncarol\nALICE again\ndave pw4\n")
    bad = [
        'line 5: a username has 1–64 of a-z A-Z 0-9 _ - . (got "Bad!")',
        'line 6: no password (each line is "username password")',
        'line 7: "ALICE" is already on line 2',
    ]
    r = home.run("user", "import", "users.txt")
    fails(r, 1, *bad, "hxim: nothing imported: 3 bad lines in users.txt (fix them, or pass --skip-bad to import the 3 "
                       "good ones)")
    assert r.stdout == ""
    r = home.run("user", "import", "users.txt", "--skip-bad", "--app", "acme#chat")
    assert (r.returncode, r.stderr) == (0, "".join(f"{line}\n" for line in bad)), r.stderr
    assert r.stdout == "imported 3 users into acme#chat (0 already there, 3 bad lines skipped)\n"
    # a second run resumes: what is there stays as it is
    r = home.run("user", "import", "users.txt", "--skip-bad")
    assert r.stdout == "imported 0 users into acme#chat (3 already there, 3 bad lines skipped)\n"
    # the users log in with the passwords of the file
    port = free_port()
    env = {**home.env, "HXIM_HTTP_HOST": "127.0.0.1", "HXIM_HTTP_PORT": str(port)}
    proc = serve(env, f"http://127.0.0.1:{port}", home.root / "serve.log", cwd=home.cwd)
    try:
        for name, password in (("alice", "pw1"), ("bob", "pw two"), ("dave", "pw4")):
            body = {"grant_type": "password", "username": name, "password": password}
            assert httpx.post(f"http://127.0.0.1:{port}/acme/chat/token", json=body).status_code == 200, name
    finally:
        proc.terminate()
        proc.wait(15)


def test_user_import_names_the_app_and_the_file(home: Home) -> None:
    _with_app(home)
    (home.cwd / "users.txt").write_text("alice pw1\n")
    fails(home.run("user", "import", "users.txt", "--app", "acme"), 1,
          "hxim: --app wants ORG#APP (e.g. hxim#default); apps here: acme#chat")
    fails(home.run("user", "import", "users.txt", "--app", "acme#nope"), 1,
          "hxim: no app acme#nope; apps here: acme#chat")
    fails(home.run("user", "import", "nothing.txt"), 1, "hxim: cannot open nothing.txt: no such file or directory")
    fails(home.run("callback", "list", "acme"), 1,
          "hxim: the app argument wants ORG#APP (e.g. hxim#default); apps here: acme#chat")


def test_user_import_shows_progress_on_a_terminal(home: Home) -> None:
    _with_app(home)
    (home.cwd / "users.txt").write_text("".join(f"user{i} pw{i}\n" for i in range(120)))
    code, seen, out = run_on_terminal([*HXIM, "user", "import", "users.txt"], home.env, home.cwd, 120)
    assert code == 0
    assert seen == "\rimported 60 / 120 users\rimported 120 / 120 users\r\n"
    assert out == "imported 120 users into acme#chat (0 already there)\n"
