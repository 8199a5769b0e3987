"""App changes across the nodes of a cluster: each node keeps a copy of an app for
`app_cache_seconds` (a minute here, so that only the cluster's word can make it forget), and a
change made anywhere (a node, or the `hxim` command beside them) reaches every node at once: a
secret rotated with `hxim app rotate-secret` voids the app's old admin tokens and its old secret
on both nodes within a second."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from cluster_helpers import Cluster, new_cluster

from conftest import HXIM, _drop_pg, assert_error

CACHE_SECONDS = "60"


@pytest.fixture(scope="module")
def cached_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = new_cluster(tmp_path_factory.mktemp("cluster"), nodes=0)
    try:
        for node in ("n1", "n2"):
            c.start(node, HXIM_APP_CACHE_SECONDS=CACHE_SECONDS)
        yield c
    finally:
        c.close()
        _drop_pg(c.pg_name)


def test_a_rotated_secret_voids_old_tokens_on_every_node_within_a_second(cached_cluster: Cluster) -> None:
    cluster = cached_cluster
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    creds = cluster.apps["other"]  # (the `main` app's admin token serves the other tests)
    prefix = f"/{creds.org}/{creds.app}"

    def token(xs_index: int, secret: str) -> tuple[int, str]:
        r = (
            nodes[xs_index]
            .server.client()
            .post(
                prefix + "/token",
                json={"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": secret},
            )
        )
        return r.status_code, r.json().get("access_token", "") if r.status_code == 200 else r.text

    def users(xs_index: int, tok: str) -> httpx.Response:
        return nodes[xs_index].server.client().get(prefix + "/users", headers={"Authorization": f"Bearer {tok}"})

    status, old = token(0, creds.client_secret)
    assert status == 200, old
    for i in range(2):  # both nodes hold the app now, for a minute
        assert users(i, old).status_code == 200
        assert token(i, creds.client_secret)[0] == 200
    r = subprocess.run(
        [*HXIM, "app", "rotate-secret", creds.org, creds.app, "--json"],
        env=cluster.base_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rotated = json.loads(r.stdout)
    assert rotated["client_secret"] != creds.client_secret
    done = time.monotonic()
    refused: dict[int, float] = {}
    while len(refused) < 2 and time.monotonic() - done < 1.0:
        for i in range(2):
            if i not in refused and users(i, old).status_code == 401:
                refused[i] = time.monotonic() - done
        time.sleep(0.02)
    assert sorted(refused) == [0, 1], f"the old token still works on nodes {sorted({0, 1} - set(refused))}"
    for i in range(2):
        assert_error(users(i, old), 401, "auth_bad_access_token", "Unable to authenticate")
        status, text = token(i, creds.client_secret)
        assert status == 400 and json.loads(text)["error_description"] == "client_secret does not match"
    # the new secret works everywhere, and so do the tokens it gives
    status, new = token(1, rotated["client_secret"])
    assert status == 200, new
    for i in range(2):
        assert users(i, new).status_code == 200


def test_the_admin_console_is_one_on_every_node_and_its_secret_rotation_reaches_both(cached_cluster: Cluster) -> None:
    """An administrator logged in on node 1 is logged in on node 2 (the session is the database's);
    a secret rotated from the console on node 2 voids the old admin token on node 1 within a
    second (the serving node tells the others)."""
    cluster = cached_cluster
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    creds = cluster.apps["main"]
    env = {**cluster.base_env, "HXIM_ADMIN_BCRYPT_ROUNDS": "4"}
    r = subprocess.run(
        [*HXIM, "admin", "add", "root", "--password-stdin"],
        env=env,
        input="correct horse\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    r = httpx.post(n1.server.base_url + "/admin/login", json={"name": "root", "password": "correct horse"})
    assert r.status_code == 200, r.text
    headers = {"Cookie": f"hxim_admin={r.cookies['hxim_admin']}", "X-CSRF-Token": r.json()["csrf"]}
    listed = httpx.get(n2.server.base_url + "/admin/api/apps", headers=headers)
    assert listed.status_code == 200, listed.text
    old = n1.api.token  # the `main` app's admin token, used on both nodes: both hold the app
    for xs in (n1, n2):
        assert xs.api.get("/users").status_code == 200
    r = httpx.post(n2.server.base_url + f"/admin/api/apps/{creds.org}/{creds.app}/secret", headers=headers)
    assert r.status_code == 200, r.text
    done = time.monotonic()
    while n1.api.get("/users", token=old).status_code == 200:
        assert time.monotonic() - done < 1.0, "node 1 still takes the old token"
        time.sleep(0.02)
    assert_error(n1.api.get("/users", token=old), 401, "auth_bad_access_token", "Unable to authenticate")
    assert_error(n2.api.get("/users", token=old), 401, "auth_bad_access_token", "Unable to authenticate")
    secret = r.json()["client_secret"]
    r = httpx.post(
        n1.server.base_url + f"/{creds.org}/{creds.app}/token",
        json={"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": secret},
    )
    assert r.status_code == 200, r.text
