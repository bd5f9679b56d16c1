"""An organization's domains in the dashboard: add one and see the TXT record to publish,
verify it once the (real, local) DNS answers, and refuse what cannot be owned."""

from __future__ import annotations

import re

from admin_helpers import AdminBrowser, field_error
from tests.support.dns import TxtServer


def _verify_error(html: str) -> str:
    match = re.search(r'id="verify-error">.*?<span>(.*?)</span>', html, re.S)
    return match.group(1) if match else ""


async def test_a_domain_is_added_then_verified_from_its_dns_record(
    admin: AdminBrowser, test_dns: TxtServer
) -> None:
    """The organization page shows a new domain as pending with its TXT record; Verify fails
    with the record it expects until the DNS answers it, then marks it verified."""
    org = await admin.services.organizations.create("Dashboard Domains Inc")
    page = f"/admin/organizations/{org.id}"
    added = await admin.follow(await admin.post(f"{page}/domains", {"domain": "dash-domains.test"}))
    assert "dash-domains.test was added." in added.text
    [domain] = await admin.services.domains.of_organization(org.id)
    assert domain.record_name in added.text
    assert domain.record_value in added.text
    assert "Pending" in added.text

    early = await admin.post(f"{page}/domains/{domain.id}/verify", {})
    assert 409 == early.status_code
    assert f"no TXT record {domain.record_name}" in _verify_error(early.text)

    test_dns.publish(domain.record_name, domain.record_value)
    verified = await admin.follow(await admin.post(f"{page}/domains/{domain.id}/verify", {}))
    assert "dash-domains.test is verified." in verified.text
    assert "Verified" in verified.text
    [after] = await admin.services.domains.of_organization(org.id)
    assert after.verified


async def test_a_public_suffix_is_refused_next_to_the_field(admin: AdminBrowser) -> None:
    """Adding a public suffix re-shows the page with the reason under the domain field."""
    org = await admin.services.organizations.create("Suffix Claimers")
    refused = await admin.post(f"/admin/organizations/{org.id}/domains", {"domain": "co.uk"})
    assert 400 == refused.status_code
    assert "public suffix" in (field_error(refused.text, "domain") or "")
    assert [] == await admin.services.domains.of_organization(org.id)


async def test_development_marks_by_hand_and_remove_takes_it_away(admin: AdminBrowser) -> None:
    """In development "Mark verified" verifies without DNS; Remove deletes the domain."""
    org = await admin.services.organizations.create("Hand Verified")
    page = f"/admin/organizations/{org.id}"
    await admin.post(f"{page}/domains", {"domain": "by-hand.test"})
    [domain] = await admin.services.domains.of_organization(org.id)
    shown = await admin.get(page)
    assert "Mark verified" in shown.text
    await admin.post(f"{page}/domains/{domain.id}/verify", {"method": "manual"})
    [marked] = await admin.services.domains.of_organization(org.id)
    assert ("manual", True) == (marked.verified_by, marked.verified)
    removed = await admin.follow(await admin.post(f"{page}/domains/{domain.id}/remove", {}))
    assert "by-hand.test was removed." in removed.text
    assert [] == await admin.services.domains.of_organization(org.id)
