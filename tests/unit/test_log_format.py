"""Log lines carry the time of their own record, also now that the formatted time is reused
within a second."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator

import pytest

from ostiary.web import logs
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


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], io.StringIO]]:
    """``configure_logging`` as ``ostiary serve`` runs it, its handler writing to a buffer;
    the ``ostiary`` logger as it was afterwards."""
    root = logging.getLogger("ostiary")
    saved = (root.handlers[:], root.level, root.propagate)
    monkeypatch.setattr(logs, "_access_lines", None)

    def configure(fmt: str) -> io.StringIO:
        logs.configure_logging(fmt)
        buffer = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
        return buffer

    yield configure
    root.handlers[:], root.level, root.propagate = saved


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_served_request_line_is_what_the_formatter_writes_for_its_record(
    configured: Callable[[str], io.StringIO], fmt: str
) -> None:
    """The access line is written without a LogRecord in a server; it must read the same as
    the formatter's line for the record ``logging`` would make (a test's records go that way)."""
    buffer = configured(fmt)
    scope = {"method": "POST", "path": "/oauth/token", "client": ("192.0.2.7", 50000)}
    logs.record_request(scope, 401, 0.01234, "rid-7")
    logs.record_request({**scope, "client": None}, 200, 0.5, "rid-8")
    written = buffer.getvalue().splitlines()

    formatter = logging.getLogger("ostiary").handlers[0].formatter
    assert formatter is not None
    expected = []
    for status, ms, rid, ip in [(401, 12.3, "rid-7", "192.0.2.7"), (200, 500.0, "rid-8", None)]:
        record = logging.getLogger("ostiary.access").makeRecord(
            "ostiary.access", logging.INFO, "", 0, "%s %s %s", ("POST", "/oauth/token", status),
            None, extra={"request_id": rid, "status": status, "duration_ms": ms, "ip": ip},
        )  # fmt: skip
        expected.append(formatter.format(record))
    if fmt == "json":

        def without_time(lines: list[str]) -> list[dict[str, object]]:
            return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]

        assert without_time(expected) == without_time(written)
        assert all(json.loads(line)["time"].count(":") == 2 for line in written)
    else:
        assert [line.split(" ", 1)[1] for line in expected] == [
            line.split(" ", 1)[1] for line in written
        ]
        assert all(len(line.split(" ", 1)[0]) == len("12:34:56") for line in written)


def test_a_silenced_access_logger_writes_no_line(
    configured: Callable[[str], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = configured("text")
    monkeypatch.setattr(logging.getLogger("ostiary.access"), "disabled", True)
    logs.record_request({"method": "GET", "path": "/keys", "client": None}, 200, 0.001, "rid-1")
    assert "" == buffer.getvalue()


def test_a_path_with_a_line_break_stays_on_one_line(
    configured: Callable[[str], io.StringIO],
) -> None:
    """The path arrives percent-decoded (``/x%0A…`` is ``/x\\n…``): logged raw, it would forge a
    line of its own."""
    buffer = configured("text")
    forged = "/x\n00:00:00 INFO    ostiary.access: POST /admin 200"
    logs.record_request({"method": "GET", "path": forged, "client": None}, 404, 0.001, "rid-1")
    lines = buffer.getvalue().splitlines()
    assert 1 == len(lines)
    assert "GET /x\\n00:00:00 INFO" in lines[0]
