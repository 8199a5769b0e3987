"""deploy/docker-compose.yml without Docker: it follows the Compose Specification, and its parts
fit together — the services, what each waits for, the nodes' settings (which hxim accepts), the
HAProxy configuration it mounts, the ports it publishes.

compose-spec.json is the Compose Specification's schema, copied from
github.com/compose-spec/compose-spec (schema/compose-spec.json, commit 170098b, Apache-2.0).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import HXIM, ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
NODES = ("hxim1", "hxim2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def defaults(value: str) -> str:
    """A value as Compose reads it with nothing set in the shell or .env: `${NAME:-default}` → default."""
    assert "${" not in re.sub(r"\$\{[A-Z0-9_]+:-[^}]*\}", "", value), f"{value!r}: a variable without a default"
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def test_the_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)
    # and the schema does catch a misspelt key
    redis = {**compose["services"]["redis"], "helthcheck": {}}
    broken = {**compose, "services": {**compose["services"], "redis": redis}}
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_services_and_what_each_waits_for(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *NODES, "haproxy"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["haproxy"]["image"].startswith("haproxy:")
    # PostgreSQL keeps its data in a named volume, and both stores say when they are ready
    [volume] = services["postgres"]["volumes"]
    name, _, target = volume.partition(":")
    assert name in compose["volumes"] and target == "/var/lib/postgresql/data"
    for store in ("postgres", "redis"):
        assert services[store]["healthcheck"]["test"], store
    stores = {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    for node in NODES:
        spec = services[node]
        assert (COMPOSE.parent / spec["build"]["context"]).resolve() == ROOT
        assert (ROOT / "Dockerfile").is_file()
        assert spec["restart"] == "unless-stopped"
        assert "ports" not in spec, "a node is reached through HAProxy only"
        assert "/health" in " ".join(spec["healthcheck"]["test"])
    # the first node starts alone on a new database (it creates the default app), the second once
    # the first is healthy
    assert services["hxim1"]["depends_on"] == stores
    assert services["hxim2"]["depends_on"] == {**stores, "hxim1": {"condition": "service_healthy"}}
    # HAProxy starts with the nodes, not after both are healthy: one node is enough to serve
    assert set(services["haproxy"]["depends_on"]) == set(NODES)


def test_the_nodes_share_one_database_and_one_redis_under_their_own_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    envs = {node: {k: defaults(str(v)) for k, v in services[node]["environment"].items()} for node in NODES}
    pg = {k: defaults(str(v)) for k, v in services["postgres"]["environment"].items()}
    urls = {env["HXIM_DATABASE_URL"] for env in envs.values()}
    assert urls == {f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"}
    assert {env["HXIM_REDIS_URL"] for env in envs.values()} == {"redis://redis:6379/0"}
    assert {env["HXIM_CLUSTER_NAME"] for env in envs.values()} == {"hxim"}
    assert sorted(env["HXIM_NODE_ID"] for env in envs.values()) == list(NODES)
    # the only address whose X-Forwarded-For the nodes believe is HAProxy's, in the network's range
    haproxy_address = services["haproxy"]["networks"]["hxim"]["ipv4_address"]
    [subnet] = [c["subnet"] for c in compose["networks"]["hxim"]["ipam"]["config"]]
    assert ipaddress.ip_address(haproxy_address) in ipaddress.ip_network(subnet)
    for env in envs.values():
        assert json.loads(env["HXIM_TRUSTED_PROXIES"]) == [haproxy_address]
        # and HAProxy's XMPP connections start with the PROXY protocol header its configuration sends
        assert env["HXIM_XMPP_PROXY_PROTOCOL"] == "true"
    assert "send-proxy-v2" in (DEPLOY / "haproxy.cfg").read_text()


@pytest.mark.parametrize("node", NODES)
def test_hxim_accepts_each_nodes_settings(compose: dict[str, Any], node: str, tmp_path: Path) -> None:
    """`hxim config check` with the node's environment as the container has it (the image's own
    variables, then the compose file's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update(HXIM_DATA_DIR=str(tmp_path), HXIM_CONFIG=str(tmp_path / "none.toml"))
    env.update({k: defaults(str(v)) for k, v in compose["services"][node]["environment"].items()})
    r = subprocess.run([*HXIM, "config", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for name in ("redis_url", "node_id", "trusted_proxies", "database_url"):
        assert name in r.stdout, r.stdout


def test_haproxy_gets_the_shipped_configuration_and_publishes_its_ports(compose: dict[str, Any]) -> None:
    haproxy = compose["services"]["haproxy"]
    [volume] = haproxy["volumes"]
    source, target, mode = volume.split(":")
    assert (COMPOSE.parent / source).resolve() == DEPLOY / "haproxy.cfg"
    assert (DEPLOY / "haproxy.cfg").is_file()
    assert target == "/usr/local/etc/haproxy/haproxy.cfg" and mode == "ro"  # where the official image reads it
    env = {k: defaults(str(v)) for k, v in haproxy["environment"].items()}
    nodes = compose["services"]
    for i, node in enumerate(NODES, 1):
        node_env = nodes[node]["environment"]
        assert env[f"HXIM{i}_ADDR"] == node
        assert env[f"HXIM{i}_HTTP_PORT"] == node_env["HXIM_HTTP_PORT"]
        assert env[f"HXIM{i}_XMPP_PORT"] == node_env["HXIM_XMPP_PORT"]
    published = {}
    for port in haproxy["ports"]:
        *host, container = port.split(":")
        published[container] = ":".join(host)
    # clients' ports on every address; the stats page on this machine only
    assert published == {"5280": "5280", "5222": "5222", "8404": "127.0.0.1:8404"}
    assert {env["LB_HTTP_BIND"], env["LB_XMPP_BIND"], env["LB_STATS_BIND"]} == {":5280", ":5222", ":8404"}


def test_haproxy_cfg_reads_the_variables_compose_sets_and_defaults_to_them(compose: dict[str, Any]) -> None:
    """Each `"${NAME-default}"` of haproxy.cfg is set by the compose file, to its default (so the
    file alone describes the compose cluster), but the stats page, which listens on 127.0.0.1
    outside a container. The one variable without a default, LB_USER, is for a HAProxy started
    as root: the official image starts it as its own user."""
    cfg = (DEPLOY / "haproxy.cfg").read_text()
    used = dict(re.findall(r"\$\{([A-Z0-9_]+)-([^}]*)\}", cfg))
    assert set(re.findall(r"\$\{([A-Z0-9_]+)\}", cfg)) == {"LB_USER"}
    env = {k: defaults(str(v)) for k, v in compose["services"]["haproxy"]["environment"].items()}
    assert set(used) == set(env)
    assert {k: v for k, v in used.items() if env[k] != v} == {"LB_STATS_BIND": "127.0.0.1:8404"}
