"""The app API's route table: `POST /api/v2/auth/login` and `/api/v2/easemob/*`."""

from __future__ import annotations

from starlette.routing import Route

from hxim.seeds.app_api.accounts import (
    get_password,
    login,
    register_many,
    register_old_users,
    register_one,
    reset_password,
)
from hxim.seeds.app_api.groups import (
    add_members,
    create_group,
    delete_group,
    get_group,
    get_groups,
    group_faces,
    remove_members,
    update_group,
)

__all__ = ["routes"]

E = "/api/v2/easemob"
routes = [
    Route("/api/v2/auth/login", login, methods=["POST"]),
    Route(E + "/register/{user_id:int}", register_one, methods=["POST"]),
    Route(E + "/register", register_many, methods=["POST"]),
    Route(E + "/register-old-users", register_old_users, methods=["POST"]),
    Route(E + "/password", reset_password, methods=["PUT"]),
    Route(E + "/password", get_password, methods=["GET"]),
    Route(E + "/group", get_group, methods=["GET"]),
    Route(E + "/group", create_group, methods=["POST"]),
    Route(E + "/group", update_group, methods=["PATCH"]),
    Route(E + "/group", delete_group, methods=["DELETE"]),
    Route(E + "/groups", get_groups, methods=["GET"]),
    Route(E + "/group/face", group_faces, methods=["GET"]),
    Route(E + "/group/member", add_members, methods=["POST"]),
    Route(E + "/group/member", remove_members, methods=["DELETE"]),
]
