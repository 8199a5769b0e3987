"""Numbers past what storage holds (a signed 64-bit integer), where a caller writes a message id, a
broadcast id, a time or a day: each is answered as what it is (no such thing, or a bad value),
never with a server error. Schemathesis found the first of these (tests/fuzz/test_fuzz_openapi.py).
"""

from __future__ import annotations

from conftest import Api, assert_error, unique

BIG = "9" * 19  # 19 digits, past 2^63 - 1
HUGE = "9" * 40


def test_recalling_a_message_id_no_message_can_have(api: Api) -> None:
    alice, bob = unique("a"), unique("b")
    api.register(alice, bob)
    ask = {"msg_id": HUGE, "to": bob, "chat_type": "chat", "force": True, "from": alice}
    assert_error(api.post("/messages/msg_recall", json=ask), 403, "message_recall_error", "not_found msg")
    r = api.post("/messages/batch_recall", json={"msgs": [ask, {**ask, "msg_id": BIG}]})
    assert r.status_code == 200, r.text
    assert [(i["recalled"], i["reason"]) for i in r.json()["data"]] == [("no", "not_found msg")] * 2


def test_modifying_or_asking_after_a_message_id_no_message_can_have(api: Api) -> None:
    alice = unique("a")
    api.register(alice)
    r = api.put(f"/messages/rewrite/{BIG}", json={"new_msg": {"type": "txt", "msg": "x"}})
    assert r.status_code == 400 and r.json()["error"] == "InvalidMessageIdException", r.text
    assert api.get(f"/users/{alice}/offline_msg_status/{BIG}").status_code == 404


def test_roaming_deletes_and_reads_with_numbers_past_storage(api: Api) -> None:
    alice, bob = unique("a"), unique("b")
    api.register(alice, bob)
    r = api.delete(f"/rest/message/roaming/chat/user/{alice}", params={"userId": bob, "msgIdList": BIG})
    assert r.status_code == 400 and r.json()["error_description"] == "msgIdList must hold message ids", r.text
    r = api.delete(f"/rest/message/roaming/chat/user/{alice}/time", params={"userId": bob, "delTime": HUGE})
    assert r.status_code == 400, r.text
    page = {"queue": f"{bob}@easemob.com", "end": -1, "pull_number": 10}
    r = api.post(f"/users/{alice}/messageroaming", json={**page, "start": BIG})
    assert_error(r, 400, "illegal_argument", "start must be -1 or the id of a message")
    r = api.post(f"/users/{alice}/messageroaming", json={**page, "start": -1, "startTime": HUGE})
    assert_error(r, 400, "illegal_argument", "startTime must be a number")


def test_the_history_with_a_time_past_storage(api: Api) -> None:
    r = api.get("/chatmessages", params={"ql": f"select * where timestamp>{HUGE}"})
    assert r.status_code == 200 and r.json()["entities"] == [], r.text
    r = api.get("/chatmessages", params={"ql": f"select * where timestamp<{HUGE}", "limit": 1})
    assert r.status_code == 200, r.text


def test_a_broadcast_or_stream_id_no_one_can_have(api: Api) -> None:
    assert api.get(f"/messages/broadcast/{BIG}").status_code == 404
    bob = unique("b")
    api.register(bob)
    r = api.post("/stream_message/user", json={"to": bob, "body": {"msg": "x", "seq": 1, "msgId": BIG}})
    assert_error(r, 400, "message_send_error", "can not find stream message by msgId")


def test_push_statistics_of_days_past_the_calendar(api: Api) -> None:
    r = api.get("/push/data/offline-push/begin/9999-12-31/end/9999-12-31")
    assert_error(r, 400, "illegal_argument")
    assert "9998-12-31" in r.json()["error_description"]
