"""/api/v1/organizations/{id}/domains against a real DNS server on 127.0.0.1: claim, the TXT
record to publish, 409 until the DNS answers it, then verified; every rule refused clearly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from api_helpers import Api
from tests.support.dns import TxtServer, txt_server

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.web.app import create_web_app


@pytest.fixture
async def dns_api(
    make_settings: Callable[..., Settings], clock: Any
) -> AsyncIterator[tuple[Api, TxtServer]]:
    """The management API of an Ostiary whose DNS lookups go to a test DNS server."""
    with txt_server() as dns:
        services = build_services(
            make_settings(OSTIARY_DNS_NAMESERVERS=dns.nameservers), clock=clock
        )
        await prepare(services)
        transport = httpx.ASGITransport(app=create_web_app(services))
        async with httpx.AsyncClient(
            transport=transport, base_url=services.settings.issuer
        ) as client:
            yield Api(client, services), dns
        await services.engine.dispose()


async def test_a_domain_is_claimed_then_verified_through_dns(
    dns_api: tuple[Api, TxtServer],
) -> None:
    """POST claims (pending, with the record to publish); verify is 409 domain_not_verified
    until the record is in DNS, then the domain is verified by DNS."""
    api, dns = dns_api
    org = await api.created("/organizations", {"display_name": "Acme"})
    base = f"/organizations/{org['id']}/domains"
    domain = await api.created(base, {"name": "Acme.com"})
    assert ("acme.com", "pending", "TXT") == (
        domain["name"],
        domain["status"],
        domain["record_type"],
    )
    assert "_ostiary-challenge.acme.com" == domain["record_name"]

    early = await api.post(f"{base}/acme.com/verify", json={})
    assert 409 == early.status_code
    assert "domain_not_verified" == early.json()["code"]

    dns.publish(domain["record_name"], domain["record_value"])
    verified = await api.ok("POST", f"{base}/{domain['id']}/verify", json={"method": "dns"})
    assert ("verified", "dns") == (verified["status"], verified["verified_by"])
    listed = await api.ok("GET", base)
    assert ([verified], None, 1) == (
        listed["domains"],
        listed["next_page_token"],
        listed["total_size"],
    )
    assert 204 == (await api.delete(f"{base}/acme.com")).status_code
    assert 404 == (await api.get(f"{base}/acme.com")).status_code


async def test_domain_rules_are_refused_with_their_reason(
    dns_api: tuple[Api, TxtServer],
) -> None:
    """A public suffix is 422 naming the field, a duplicate claim 409, an unknown
    organization 404."""
    api, _ = dns_api
    org = await api.created("/organizations", {"display_name": "Acme"})
    base = f"/organizations/{org['id']}/domains"
    suffix = await api.post(base, json={"name": "co.uk"})
    assert 422 == suffix.status_code
    assert [("name", "domain")] == [(d["field"], d["rule"]) for d in suffix.json()["details"]]
    await api.created(base, {"name": "acme.com"})
    assert 409 == (await api.post(base, json={"name": "ACME.com"})).status_code
    assert (
        404
        == (await api.post("/organizations/org_nope/domains", json={"name": "a.com"})).status_code
    )
