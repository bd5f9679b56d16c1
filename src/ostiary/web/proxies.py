"""The client's address behind reverse proxies (``OSTIARY_TRUSTED_PROXIES``).

Only a connection from a trusted proxy may say who its client is, in ``X-Forwarded-For``. Each
proxy appends the address it received the request from, so the header is read from the right:
trusted hops are skipped, and the first address that is not a trusted proxy is the client's
(what came before it was written by that client and proves nothing). With no trusted proxies
(the default) the header is ignored: anyone can send one. uvicorn's own ``proxy_headers`` is
off in ``ostiary serve``, as it trusts 127.0.0.1 by default."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["Network", "TrustedProxies", "parse_address"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """An address from a header entry (``192.0.2.1``, ``2001:db8::1``, with or without a port:
    ``192.0.2.1:4711``, ``[2001:db8::1]:4711``); None if it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, networks: Sequence[Network]) -> None:
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in net for net in self._networks)

    def client(self, peer: str, forwarded_for: Sequence[bytes]) -> str:
        """The client's address for a request that came from ``peer`` with these
        ``X-Forwarded-For`` header values (in the order received)."""
        client = parse_address(peer)
        if not self.trusts(client):
            return peer
        entries = [e for value in forwarded_for for e in value.decode("latin-1").split(",")]
        for entry in reversed(entries):
            address = parse_address(entry)
            if address is None:  # garbage: the hop that passed it on is as far as we can see
                break
            client = address
            if not self.trusts(address):
                break
        return str(client)
