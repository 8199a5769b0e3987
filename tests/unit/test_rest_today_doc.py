"""docs/rest-today.md (Easemob's REST endpoints of today, each marked served or not yet) agrees
with the routes the server has, and its totals add up."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from hxim.http.app import REST_MODULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "rest-today.md"
ROW = re.compile(r"^\| (GET|POST|PUT|DELETE|PATCH) \| `([^`]+)` \| [^|]+ \| (served|not yet) \|$")
AREA = re.compile(r"^## .+ \((\d+)/(\d+) served\)$")


def _shape(path: str) -> str:
    """A path with its parameters blanked, without the org and app prefix and any query; a
    parameter that lists several names (`{member1}(,{member2},…)`) is one parameter."""
    path = re.sub(r"\(,[^)]*\)", "", path.split("?")[0])
    return re.sub(r"\{[^}]+\}", "{}", path.replace("/{org}/{app}", ""))


def _served_routes() -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for module in REST_MODULES:
        for route in module.routes:
            if isinstance(route, Route):
                routes.update((method, _shape(route.path)) for method in route.methods or ())
    return routes


def test_every_row_says_what_the_server_serves() -> None:
    served = _served_routes()
    rows, areas = [], []
    for line in DOC.read_text().splitlines():
        if m := ROW.match(line):
            rows.append((m.group(1), m.group(2), m.group(3) == "served"))
        elif m := AREA.match(line):
            areas.append((int(m.group(1)), int(m.group(2))))
    assert len(rows) == 192 and sum(total for _, total in areas) == len(rows)
    wrong = [(meth, path, says) for meth, path, says in rows if ((meth, _shape(path)) in served) != says]
    assert not wrong, f"rows whose served column is wrong: {wrong}"
    count = sum(says for _, _, says in rows)
    assert f"served {count}, not yet {len(rows) - count}." in DOC.read_text()
    assert sum(n for n, _ in areas) == count



API = DOC.parent / "api.md"
SDK_CALL = re.compile(r"`(GET|POST|PUT|DELETE) (/[^` ?]+)")


def test_the_web_sdk_calls_are_listed_apart() -> None:
    """The Web SDK 4.x's own calls (http/sdk.py) are not Easemob server calls: each is in docs/api.md's
    section "Calls of the Web SDK 4.x", and none is a row of rest-today.md."""
    from hxim.http import sdk

    text = API.read_text()
    section = text.split("### Calls of the Web SDK 4.x", 1)[1].split("\n### ", 1)[0]
    listed = {(m.group(1), _shape(m.group(2))) for m in SDK_CALL.finditer(section)}
    rows = {(m.group(1), _shape(m.group(2))) for line in DOC.read_text().splitlines() if (m := ROW.match(line))}
    for route in sdk.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                assert (method, _shape(route.path)) in listed, (method, route.path)
                assert (method, _shape(route.path)) not in rows, (method, route.path)
