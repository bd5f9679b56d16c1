"""A real DNS server on 127.0.0.1 (dnslib's), answering the TXT records a test publishes, so
that domain verification runs through dnspython and the network instead of a mocked lookup."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer

__all__ = ["TxtServer", "txt_server"]


class _Records(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.questions: list[str] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        with self.lock:
            self.questions.append(name)
            texts = list(self.txt.get(name, []))
        if request.q.qtype == QTYPE.TXT and texts:
            for text in texts:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(text), ttl=5))
        elif not texts:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class TxtServer:
    """``publish(name, text)`` makes the server answer a TXT query for ``name``."""

    def __init__(self, records: _Records, port: int) -> None:
        self._records = records
        self.port = port

    @property
    def nameservers(self) -> str:
        """The value for OSTIARY_DNS_NAMESERVERS."""
        return f"127.0.0.1:{self.port}"

    def publish(self, name: str, text: str) -> None:
        with self._records.lock:
            self._records.txt.setdefault(name.lower(), []).append(text)

    def questions(self) -> list[str]:
        with self._records.lock:
            return list(self._records.questions)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def txt_server() -> Iterator[TxtServer]:
    """Run a DNS server on a free UDP port of 127.0.0.1 for the block."""
    records = _Records()
    port = _free_udp_port()
    server = DNSServer(records, address="127.0.0.1", port=port, logger=_Quiet())
    server.start_thread()
    try:
        yield TxtServer(records, port)
    finally:
        server.stop()


class _Quiet:
    """dnslib's logger, silenced (it prints every query otherwise)."""

    def __getattr__(self, _name: str) -> Any:
        return lambda *args, **kwargs: None
