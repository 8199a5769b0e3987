"""hxim.xmpp.jid: parsing, comparison, limits, Easemob identities."""

from __future__ import annotations

import pytest

from hxim.xmpp.jid import JID, EasemobNode, InvalidJID, room_jid, split_node, user_jid, user_node


def test_parse_parts_and_str() -> None:
    j = JID.parse("easemob-demo#chatdemoui_Alice@Easemob.com/webim")
    assert (j.local, j.domain, j.resource) == ("easemob-demo#chatdemoui_Alice", "Easemob.com", "webim")
    assert str(j) == "easemob-demo#chatdemoui_Alice@Easemob.com/webim"  # kept as received
    assert str(j.bare) == "easemob-demo#chatdemoui_Alice@Easemob.com"
    assert j.is_full and j.bare.is_bare
    assert JID.parse("example.com").local is None
    assert JID.parse("a@b/c/d@e").resource == "c/d@e"  # the resource starts at the first '/'
    assert JID.parse("a@b/with space").resource == "with space"


def test_equality_case_folds_local_and_domain_not_resource() -> None:
    a = JID.parse("Alice@Example.COM/Phone")
    assert a == JID.parse("alice@example.com/Phone")
    assert hash(a) == hash(JID.parse("alice@example.com/Phone"))
    assert a != JID.parse("alice@example.com/phone")
    assert a.bare_key == "alice@example.com"
    assert JID("alice", "example.com.", None) == JID.parse("alice@example.com")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@example.com",
        "a@",
        "a@b/",
        "a b@example.com",
        'a"b@example.com',
        "a<b@example.com",
        "a:b@example.com",
        "a@exa mple.com",
        "a@example.com/\x07",
        "a@[zz]",
        "a@exa..mple",
        ("x" * 1024) + "@example.com",
        "a@" + "d" * 1024,
        "a@b/" + "\u00e9" * 512,  # 1024 bytes
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidJID):
        JID.parse(text)
    assert JID.try_parse(text) is None


def test_limits_at_the_edge() -> None:
    assert JID.parse(("x" * 1023) + "@example.com").local == "x" * 1023
    assert JID.parse("a@[::1]").domain == "[::1]"


def test_split_node_known_appkeys_longest_wins() -> None:
    known = {"org#app", "org#app_two", "my_org#a.b-c"}
    assert split_node("org#app_alice", known) == EasemobNode("org#app", "alice")
    assert split_node("org#app_two_bob", known) == EasemobNode("org#app_two", "bob")
    assert split_node("org#app_x_y", known) == EasemobNode("org#app", "x_y")  # usernames may hold '_'
    assert split_node("my_org#a.b-c_u", known) == EasemobNode("my_org#a.b-c", "u")
    assert split_node("org#other_alice", known) is None
    assert split_node("org#app_", known) is None
    assert split_node("alice", known) == EasemobNode(None, "alice")  # the default app
    assert split_node("a#b#c_d", known) is None
    assert split_node("org#app_alice", lambda k: k.lower() == "org#app") == EasemobNode("org#app", "alice")


def test_split_node_sdk_rule_without_known() -> None:
    assert split_node("easemob-demo#chatdemoui_alice") == EasemobNode("easemob-demo#chatdemoui", "alice")
    assert split_node("o#a_b_c") == EasemobNode("o#a", "b_c")
    assert split_node("o#a") is None


def test_identity_builders() -> None:
    assert user_node("easemob-demo#chatdemoui", "Alice") == "easemob-demo#chatdemoui_alice"
    assert user_node(None, "Alice") == "alice"
    assert str(user_jid("easemob-demo#chatdemoui", "Alice", "easemob.com", "webim")) == (
        "easemob-demo#chatdemoui_alice@easemob.com/webim"
    )
    assert str(room_jid("easemob-demo#chatdemoui", "1480567165764", "easemob.com", "Alice")) == (
        "easemob-demo#chatdemoui_1480567165764@conference.easemob.com/Alice"
    )
