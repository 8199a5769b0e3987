"""The log lines of a worker of `hxim serve --workers N` name it, as text and as JSON (logs.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from hxim.logs import configure, in_words


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    root.handlers[:] = saved
    root.setLevel(level)


def test_a_worker_names_itself_on_every_text_line(root_handlers: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure("INFO", "text", "web1-2")
    logging.getLogger("hxim").info("hxim stopped after %s", in_words(3725))
    logging.getLogger("hxim.c2s").warning("a warning")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith(" INFO hxim[web1-2]: hxim stopped after 1 h 2 min 5 s"), lines
    assert lines[1].endswith(" WARNING hxim.c2s[web1-2]: a warning"), lines


def test_a_worker_names_itself_on_every_json_line(root_handlers: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure("INFO", "json", "web1-2")
    logging.getLogger("hxim").info("served", extra={"http": "http://127.0.0.1:5280"})
    record = json.loads(capsys.readouterr().err)
    assert (record["message"], record["node"], record["http"]) == ("served", "web1-2", "http://127.0.0.1:5280")


def test_a_single_node_writes_no_name(root_handlers: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure("INFO", "text")
    logging.getLogger("hxim").info("hello")
    assert capsys.readouterr().err.endswith(" INFO hxim: hello\n")
