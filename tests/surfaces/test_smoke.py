from conftest import Api, assert_error, unique


def test_register_get_and_unknown(api: Api) -> None:
    name = unique()
    [entity] = api.register(name)
    assert entity["username"] == name and entity["activated"] is True
    r = api.get(f"/users/{name.upper()}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body)[:3] == ["action", "application", "params"]
    assert body["entities"][0]["uuid"] == entity["uuid"]
    assert_error(api.get("/users/nobody-here"), 404, "service_resource_not_found", "Service resource not found")
