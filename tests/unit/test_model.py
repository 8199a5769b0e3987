"""Identifiers: client ids and time-ordered numeric ids."""

import base64
import uuid

from hxim.model import IdGenerator, client_id_for, now_ms


def test_client_id_is_usergrid_format() -> None:
    # The spec's example: YXA6i-Ak8Ol4Eei2l11ZjV-EAg is "ap:" + 8be024f0-e978-11e8-b697-5d598d5f8402.
    app = uuid.UUID("8be024f0-e978-11e8-b697-5d598d5f8402")
    assert client_id_for(app) == "YXA6i-Ak8Ol4Eei2l11ZjV-EAg"
    raw = base64.urlsafe_b64decode("YXA6i-Ak8Ol4Eei2l11ZjV-EAg" + "==")
    assert raw[:3] == b"ap:" and uuid.UUID(bytes=raw[3:]) == app


def test_ids_are_unique_increasing_and_carry_time() -> None:
    gen = IdGenerator(5)
    ids = gen.many(20_000)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert abs(IdGenerator.timestamp_of(ids[-1]) - now_ms()) < 5_000
    assert (ids[0] >> 12) & 1023 == 5


def test_nodes_never_collide() -> None:
    a, b = IdGenerator(1), IdGenerator(2)
    assert not set(a.many(5000)) & set(b.many(5000))
