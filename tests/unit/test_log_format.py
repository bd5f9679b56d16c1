"""Log lines carry the time of their own record, also now that the formatted time is reused
within a second."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import json
import logging
import time

from ostiary.web.logs import JsonFormatter, TextFormatter


def _record(created: float) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "ostiary.access", "msg": "GET /keys 200"})
    record.created = created
    record.levelname = "INFO"
    return record


def test_each_line_shows_the_second_of_its_record() -> None:
    text, as_json = TextFormatter(), JsonFormatter()
    start = float(int(time.time()))
    for created in (start, start + 0.5, start + 1.25, start + 61, start + 0.75):
        expected = time.localtime(created)
        line = text.format(_record(created))
        assert time.strftime("%H:%M:%S", expected) == line.split(" ", 1)[0]
        document = json.loads(as_json.format(_record(created)))
        assert time.strftime("%Y-%m-%dT%H:%M:%S", expected) == document["time"]
