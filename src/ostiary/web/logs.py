"""Structured request logs with a request id. Only the path is logged, never the query string
or a body: queries and forms carry codes, hints and passwords."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from typing import Any

from starlette.types import Scope

from ostiary.web.metrics import HTTP_LATENCY, HTTP_REQUESTS, route_label

__all__ = ["configure_logging", "record_request", "request_id"]

log = logging.getLogger("ostiary.access")
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class _RequestIds:
    """Request ids need to be unique, not secret: a random prefix per process (made again in
    a forked worker) and a counter — cheaper than drawing random bytes for every request."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._numbers = itertools.count(1)

    def next(self) -> str:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._prefix = f"{os.urandom(5).hex()}-"
        return f"{self._prefix}{next(self._numbers):x}"


_request_ids = _RequestIds()


class _SecondsCache(logging.Formatter):
    """``formatTime`` once per second: every request writes a line, and formatting the time
    (``localtime`` and ``strftime``) was a noticeable part of it."""

    datefmt_for_lines = "%H:%M:%S"

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._formatted = ""

    def time_of(self, record: logging.LogRecord) -> str:
        return self.time_at(record.created)

    def line(
        self, stamp: str, level: str, logger: str, message: str, fields: dict[str, Any]
    ) -> str:
        """One line's text, from ``format`` and from the access lines written without a
        record (``_AccessLines``)."""
        raise NotImplementedError

    def time_at(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            # As ``formatTime`` with ``datefmt`` does.
            self._formatted = time.strftime(self.datefmt_for_lines, self.converter(created))
            self._second = second
        return self._formatted


class JsonFormatter(_SecondsCache):
    datefmt_for_lines = "%Y-%m-%dT%H:%M:%S"

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in STANDARD_ATTRS}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        message = record.getMessage()
        return self.line(self.time_of(record), record.levelname, record.name, message, fields)

    def line(
        self, stamp: str, level: str, logger: str, message: str, fields: dict[str, Any]
    ) -> str:
        document = {"time": stamp, "level": level.lower(), "logger": logger, "message": message}
        return json.dumps(document | fields, default=str)


class TextFormatter(_SecondsCache):
    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in STANDARD_ATTRS}
        message = record.getMessage()
        line = self.line(self.time_of(record), record.levelname, record.name, message, fields)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line

    def line(
        self, stamp: str, level: str, logger: str, message: str, fields: dict[str, Any]
    ) -> str:
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{stamp} {level:<7} {logger}: {message}" + (f" {extra}" if extra else "")


class _AccessLines:
    """The access line of every request, written to the handler ``configure_logging``
    installs without a ``LogRecord``: through ``logging`` (the record, its extras, the
    formatter's walk over the record's attributes) the line cost 23-26 µs of a /keys request's
    43-46 µs in-process, and a served /keys took 145 µs of CPU with it and 108 µs without any.
    The text is the formatter's own ``line``; a record that goes through ``logging`` (a test's
    handler, ``caplog``) is made only when ``configure_logging`` did not run."""

    def __init__(self, handler: logging.StreamHandler[Any], formatter: _SecondsCache) -> None:
        self._handler = handler
        self._formatter = formatter

    def write(self, message: str, fields: dict[str, Any]) -> None:
        formatter = self._formatter
        line = formatter.line(formatter.time_at(time.time()), "INFO", log.name, message, fields)
        handler = self._handler
        try:
            with handler.lock:  # type: ignore[union-attr]  # a StreamHandler always has one
                handler.stream.write(line + handler.terminator)
                handler.stream.flush()
        except Exception:  # as StreamHandler.emit: a log line never fails a request
            handler.handleError(logging.makeLogRecord({"name": log.name, "msg": line}))


_access_lines: _AccessLines | None = None


def configure_logging(fmt: str) -> None:
    # What no formatter here prints, not collected for every record (the logging HOWTO's
    # "Optimization" section): the caller's file and line (a walk up the stack), thread and
    # process names.
    global _access_lines
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger("ostiary")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    _access_lines = _AccessLines(handler, formatter)


def request_id(incoming: bytes | None) -> str:
    """The caller's ``X-Request-ID`` when it is safe to echo and log, else a new one."""
    if incoming is not None:
        text = incoming.decode("latin-1")
        if SAFE_REQUEST_ID.match(text):
            return text
    return _request_ids.next()


# Metric children by (method, route, status): ``labels()`` looks its child up under a lock on
# every call, ~2.4 µs per request of the ~3.6 µs the two metrics cost; prometheus_client's
# documentation suggests keeping children. As many as the labels themselves: route_label's
# few routes, the methods the HTTP parser accepts, status codes.
_metric_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record_request(scope: Scope, status: int, elapsed: float, request_id: str) -> None:
    """The access log line and the HTTP metrics of one finished request."""
    method, path = scope["method"], scope["path"]
    route = route_label(path)
    children = _metric_children.get((method, route, status))
    if children is None:
        children = (HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(route))
        _metric_children[(method, route, status)] = children
    children[0].inc()
    children[1].observe(elapsed)
    if not log.isEnabledFor(logging.INFO):
        return
    if not path.isprintable():
        # The path arrives percent-decoded: a %0A in it would start a forged line of its own
        # in the text log. Escaped, the line stays one line and still shows what was asked.
        path = path.encode("unicode_escape").decode("ascii")
    client = scope.get("client")
    fields = {
        "request_id": request_id,
        "status": status,
        "duration_ms": round(elapsed * 1000, 1),
        "ip": client[0] if client else None,
    }
    if _access_lines is not None:
        _access_lines.write(f"{method} {path} {status}", fields)
    else:
        log.info("%s %s %s", method, path, status, extra=fields)
