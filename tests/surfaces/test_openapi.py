"""The OpenAPI document (`GET /openapi.json`) and its viewer (`GET /docs`).

The document is generated from the application's routes: every route must describe itself (a
route added without a `@doc` fails `test_every_route_describes_itself`, naming it), the document
must be valid OpenAPI 3.1, and its operations must be exactly the routes the server serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette

from conftest import Server
from hxim.app import Node
from hxim.c2s import C2S
from hxim.config import Settings
from hxim.http.app import build_http_app
from hxim.http.openapi import operations, undescribed
from hxim.msync.context import Msync


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    """The HTTP application of a node on a fresh SQLite file, built as `hxim serve` builds it."""
    node = Node(Settings(data_dir=tmp_path_factory.mktemp("openapi")))
    node.open()
    yield build_http_app(node, C2S(node), Msync(node))
    node.close()


def _shape(path: str) -> str:
    return re.sub(r"{[^}]+}", "{}", path)


def test_every_route_describes_itself(app: Starlette) -> None:
    missing = undescribed(app.router.routes)
    assert not missing, "routes without @doc (or without the security their face records):\n" + "\n".join(missing)


def test_the_document_is_valid_openapi_31(server: Server) -> None:
    r = server.client().get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    document = r.json()
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises with the first problem found


def test_the_document_lists_exactly_the_served_routes(server: Server, app: Starlette) -> None:
    document = server.client().get("/openapi.json").json()
    documented = {(method.upper(), _shape(path)) for path, ops in document["paths"].items() for method in ops}
    served = {(method, _shape(path)) for method, path, _ in operations(app.router.routes)}
    assert served - documented == set(), "served but not in the document"
    assert documented - served == set(), "in the document but not served"
    assert len(documented) > 250
    # a few a reader would look for
    users = document["paths"]["/{org}/{app}/users"]
    assert users["post"]["requestBody"]["required"] is True
    assert {"easemobAppToken": []} in users["get"]["security"]
    assert {"easemobUserToken": []} not in users["get"]["security"]  # listing users takes the app token
    assert {"easemobUserToken": []} in document["paths"]["/{org}/{app}/users/{username}"]["get"]["security"]
    assert document["paths"]["/{org}/{app}/token"]["post"]["security"] == []
    login = document["paths"]["/api/v2/auth/login"]["post"]
    assert login["security"] == []
    assert {"appApiJwt": []} in document["paths"]["/api/v2/easemob/group"]["get"]["security"]
    hx = document["paths"]["/hx/registerUser"]["post"]
    assert "token" in hx["requestBody"]["content"]["application/json"]["schema"]["required"]
    assert set(document["components"]["securitySchemes"]) >= {"easemobAppToken", "easemobUserToken", "appApiJwt"}


def test_the_document_describes_errors_in_each_face(server: Server) -> None:
    paths = server.client().get("/openapi.json").json()["paths"]
    get_user = paths["/{org}/{app}/users/{username}"]["get"]["responses"]
    assert get_user["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EasemobError"}
    assert "401" in get_user
    group = paths["/api/v2/easemob/group"]["post"]["responses"]
    assert "201" in group and group["422"]["content"]["application/json"]["schema"]["$ref"].endswith("AppApiError")
    assert set(paths["/hx/getUser"]["post"]["responses"]) == {"200"}  # the gateway answers 200 whatever happens


def test_the_viewer_is_served_from_the_package(server: Server) -> None:
    http = server.client()
    page = http.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in page.headers
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets  # nothing from another site
    for asset in assets:
        r = http.get(asset)
        assert r.status_code == 200, asset
        assert len(r.content) > 0
    init = http.get("/docs/assets/init.js")
    assert '"/openapi.json"' in init.text
    bundle = http.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "Apache License" in http.get("/docs/assets/LICENSE").text
    assert http.get("/docs/assets/nothing.js").status_code == 404
    assert http.get("/docs/assets/..%2F..%2Fapp.py").status_code == 404


def test_the_vendored_viewer_is_in_the_package_data() -> None:
    import hxim

    static = Path(hxim.__file__).parent / "http" / "static" / "swagger-ui"
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"} <= {p.name for p in static.iterdir()}
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert "http/static/swagger-ui/*" in pyproject
