"""Which hours of history `hxim migrate-from-easemob` asks for, and how it reads a history file in
the forms Easemob's docs leave open (one record a line, or one JSON array; gzip'd or not)."""

import gzip
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from hxim.services.easemob_migration import MigrationError, history_hours, history_records


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_hours_in_the_sources_zone() -> None:
    since, until = ms("2024-05-01T10:30:00+00:00"), ms("2024-05-02T09:05:00+00:00")
    assert history_hours(since, until, ZoneInfo("UTC")) == ("2024050110", "2024050209")
    # Easemob's China clusters name hours in Beijing time (UTC+8)
    assert history_hours(since, until, ZoneInfo("Asia/Shanghai")) == ("2024050118", "2024050217")


def test_hours_of_every_zone_when_the_zone_is_not_known() -> None:
    since, until = ms("2024-05-01T10:30:00+00:00"), ms("2024-05-02T09:05:00+00:00")
    first, last = history_hours(since, until, None)
    assert (first, last) == ("2024043022", "2024050223")  # from UTC-12 to UTC+14
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "Asia/Shanghai", "UTC", "America/New_York"):
        start, end = history_hours(since, until, ZoneInfo(zone))
        assert first <= start and end <= last, zone


RECORDS = [
    {"msg_id": "1", "timestamp": 1, "chat_type": "chat", "payload": {"bodies": [{"type": "txt", "msg": "a"}]}},
    {"msg_id": "2", "timestamp": 2, "chat_type": "groupchat", "payload": {"bodies": [{"type": "txt", "msg": "b"}]}},
]


@pytest.mark.parametrize(
    "raw",
    [
        b"".join(orjson.dumps(r) + b"\n" for r in RECORDS),  # JSON lines, as hxim writes them
        orjson.dumps(RECORDS),  # one array
        orjson.dumps(RECORDS, option=orjson.OPT_INDENT_2),  # one array over several lines
    ],
    ids=["lines", "array", "indented array"],
)
def test_history_file_forms(raw: bytes) -> None:
    assert history_records(gzip.compress(raw)) == RECORDS
    assert history_records(raw) == RECORDS


def test_a_file_that_is_not_json_is_said_so() -> None:
    with pytest.raises(MigrationError, match="not JSON lines"):
        history_records(gzip.compress(b"<html>expired</html>"))

