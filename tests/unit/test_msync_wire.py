"""The msync wire: the generated protobuf module is current, and messages cross between the
stored model and the SDK's MessageBody without loss (every REST body type, every ext type)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hxim import errors
from hxim.model import Message
from hxim.msync import bodies, wire
from hxim.msync.wire import pb

MSYNC = Path(__file__).resolve().parents[2] / "src" / "hxim" / "msync"
C = pb.MessageBody.Content


def test_the_generated_module_matches_the_proto(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    shutil.copy(MSYNC / "easemob.proto", tmp_path)
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", str(tmp_path / "easemob.proto")],
        check=True,
    )
    for name in ("easemob_pb2.py", "easemob_pb2.pyi"):
        assert (tmp_path / name).read_text() == (MSYNC / name).read_text(), f"run scripts/gen_msync_proto.sh ({name})"


BODIES = [
    {"type": "txt", "msg": "hello"},
    {"type": "img", "url": "http://h/f", "secret": "s", "filename": "a.png", "file_length": 10,
     "size": {"width": 3.0, "height": 2.0}},
    {"type": "video", "url": "http://h/v", "secret": "s", "filename": "v.mp4", "file_length": 9, "length": 4,
     "thumb": "http://h/t", "thumb_secret": "ts"},
    {"type": "audio", "url": "http://h/a", "secret": "s", "filename": "a.amr", "file_length": 8, "length": 3},
    {"type": "file", "url": "http://h/d", "secret": "s", "filename": "d.pdf", "file_length": 7},
    {"type": "loc", "lat": 39.9, "lng": 116.3, "addr": "Beijing", "buildingName": "B"},
    {"type": "cmd", "action": "refresh"},
    {"type": "custom", "customEvent": "gift", "customExts": {"n": "1"}},
]


@pytest.mark.parametrize("body", BODIES, ids=[b["type"] for b in BODIES])
def test_bodies_cross_both_ways(body: dict) -> None:
    ext = {"i": 1, "big": 1 << 40, "f": 1.5, "b": True, "s": "x", "o": {"k": [1, None]}, "n": None}
    message = Message(1234, uuid.uuid4(), "chat", "alice", "bob", 99, [body], ext)
    meta = pb.Meta()
    meta.ParseFromString(bodies.meta_bytes(message, "org#app"))
    assert (meta.id, meta.timestamp, meta.ns) == (1234, 99, pb.Meta.CHAT)
    assert (meta.from_.name, meta.to.name, meta.to.domain) == ("alice", "bob", wire.CHAT_DOMAIN)
    mb = pb.MessageBody()
    mb.ParseFromString(meta.payload)
    assert mb.type == pb.MessageBody.CHAT and mb.from_.name == "alice" and mb.to.name == "bob"
    assert not mb.to.client_resource and not meta.to.client_resource
    assert bodies.bodies_of(mb) == [body]
    assert bodies.ext_of(mb.ext) == ext


def test_room_messages_name_the_room() -> None:
    message = Message(5, uuid.uuid4(), "chatroom", "alice", "777", 1, [{"type": "txt", "msg": "x"}])
    meta = pb.Meta()
    meta.ParseFromString(bodies.meta_bytes(message, "org#app"))
    mb = pb.MessageBody()
    mb.ParseFromString(meta.payload)
    assert mb.type == pb.MessageBody.CHATROOM and mb.to.name == "777" and meta.to.domain == wire.ROOM_DOMAIN


def test_combined_messages_and_empty_ones_are_refused() -> None:
    with pytest.raises(errors.HximError):
        bodies.bodies_of(pb.MessageBody(type=pb.MessageBody.CHAT))
    combined = pb.MessageBody(type=pb.MessageBody.CHAT, contents=[C(type=C.TEXT, sub_type=C.SUB_COMBINE)])
    with pytest.raises(errors.HximError):
        bodies.bodies_of(combined)


def test_frames() -> None:
    frame = wire.decode(wire.provision_answer(resource="r1"))
    assert frame.command == wire.PROVISION
    answer = pb.Provision()
    answer.ParseFromString(frame.payload)
    assert answer.HasField("status") and answer.status.error_code == 0 and answer.resource == "r1"
    assert not answer.protocol_compress_type  # compression declined
    page = wire.decode(wire.batch_answer(wire.jid("o#a", "bob"), [b"\x08\x05", b"\x08\x06"], 6, False))
    dl = pb.CommSyncDL()
    dl.ParseFromString(page.payload)
    assert [m.id for m in dl.metas] == [5, 6] and dl.next_key == 6 and dl.queue.name == "bob"
    assert dl.HasField("status") and not dl.is_last
    with pytest.raises(wire.FrameError):
        wire.decode(b"\xff\xff\xff")
