"""An organization's email domains: claimed by an administrator, verified through DNS.

Verification looks up the TXT record ``_ostiary-challenge.<domain>`` with dnspython, through the
system's resolver or the servers of OSTIARY_DNS_NAMESERVERS, and wants the value
``ostiary-domain-verification=<token>`` among its answers. Development may also mark a domain
verified by hand; production refuses that, since a verified domain is trusted (it routes
sign-ins and will vouch for upstream identities).
"""

from __future__ import annotations

import secrets

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from ostiary.config import Settings
from ostiary.domain.domains import (
    Domain,
    DomainRuleError,
    VerificationMethod,
    normalize_domain,
)
from ostiary.domain.ids import new_id
from ostiary.services.clock import Clock
from ostiary.services.errors import Conflict, InvalidInput, NotFound
from ostiary.services.organizations import OrganizationService
from ostiary.storage.domains import DomainStore, DomainTaken

__all__ = ["MAX_DOMAINS", "DnsLookup", "DomainNotVerified", "DomainService"]

DNS_TIMEOUT_S = 5.0
MAX_DOMAINS = 50  # per organization


class DomainNotVerified(Conflict):
    """The DNS does not (yet) prove the claim; the message says what was expected and seen."""

    code = "domain_not_verified"


class DnsLookup:
    """TXT lookups with dnspython's asyncio resolver."""

    def __init__(self, nameservers: tuple[tuple[str, int], ...] | None) -> None:
        self._nameservers = nameservers

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if self._nameservers is None:
            resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in self._nameservers
            ]
        resolver.lifetime = DNS_TIMEOUT_S
        return resolver

    async def txt(self, name: str) -> list[str]:
        """The texts of the TXT records at ``name`` (a record's strings joined); none when the
        name or the record does not exist. Raises DomainNotVerified when no server answers."""
        try:
            answer = await self._resolver().resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoResolverConfiguration:
            raise DomainNotVerified(
                "This server has no DNS resolver configured (no /etc/resolv.conf); set "
                "OSTIARY_DNS_NAMESERVERS."
            ) from None
        except dns.exception.Timeout:
            raise DomainNotVerified(
                f"The DNS lookup of {name} timed out after {DNS_TIMEOUT_S:.0f} seconds; try again."
            ) from None
        except dns.exception.DNSException as exc:
            raise DomainNotVerified(
                f"The DNS lookup of {name} failed ({type(exc).__name__}); try again later."
            ) from None
        return [b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer]


class DomainService:
    def __init__(
        self,
        store: DomainStore,
        organizations: OrganizationService,
        lookup: DnsLookup,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._store = store
        self._organizations = organizations
        self._lookup = lookup
        self._settings = settings
        self._clock = clock

    async def add(self, org_id: str, name: str) -> Domain:
        """Claim ``name`` for the organization: not yet verified."""
        org = await self._organizations.get(org_id)
        try:
            normalized = normalize_domain(name)
        except DomainRuleError as err:
            raise InvalidInput("name", str(err), rule="domain") from None
        if len(await self._store.of_organization(org.id)) >= MAX_DOMAINS:
            raise Conflict(f"{org.display_name} has {MAX_DOMAINS} domains, the most it may have.")
        owner = await self._store.verified_owner(normalized)
        if owner is not None and owner.organization_id != org.id:
            raise Conflict(f"{normalized} is already verified by another organization.")
        domain = Domain(
            id=new_id("dom"),
            organization_id=org.id,
            name=normalized,
            verification_token=secrets.token_urlsafe(24),
            verified_at=None,
            verified_by=None,
            created_at=self._clock.now(),
        )
        try:
            await self._store.insert(domain)
        except DomainTaken:
            raise Conflict(f"{org.display_name} already has the domain {normalized}.") from None
        return domain

    async def of_organization(self, org_id: str) -> list[Domain]:
        org = await self._organizations.get(org_id)
        return await self._store.of_organization(org.id)

    async def get(self, org_id: str, ref: str) -> Domain:
        org = await self._organizations.get(org_id)
        domain = await self._store.get(org.id, _ref(ref))
        if domain is None:
            raise NotFound(f"{org.display_name} has no domain {ref!r}.")
        return domain

    async def verify(self, org_id: str, ref: str, *, manual: bool = False) -> Domain:
        """Verify through DNS, or by hand in development; a verified domain stays so."""
        domain = await self.get(org_id, ref)
        if domain.verified:
            return domain
        if manual:
            if self._settings.production:
                raise InvalidInput(
                    "method",
                    "Production verifies domains through DNS only: publish the TXT record "
                    f"{domain.record_name} with the value {domain.record_value}.",
                    rule="dns_required",
                )
            method = VerificationMethod.MANUAL
        else:
            found = await self._lookup.txt(domain.record_name)
            if domain.record_value not in found:
                seen = f" (found: {', '.join(found)[:300]})" if found else ""
                raise DomainNotVerified(
                    f"The DNS has no TXT record {domain.record_name} with the value "
                    f"{domain.record_value} yet{seen}. DNS changes can take a while to reach "
                    "everyone: try again later."
                )
            method = VerificationMethod.DNS
        try:
            await self._store.mark_verified(domain.id, at=self._clock.now(), method=method)
        except DomainTaken:
            raise Conflict(f"{domain.name} was verified by another organization first.") from None
        return await self.get(org_id, domain.id)

    async def remove(self, org_id: str, ref: str) -> Domain:
        domain = await self.get(org_id, ref)
        await self._store.delete(domain.id)
        return domain


def _ref(ref: str) -> str:
    """A domain id as given, a name normalized (so ``ACME.com.`` finds ``acme.com``)."""
    if ref.startswith("dom_"):
        return ref
    try:
        return normalize_domain(ref)
    except DomainRuleError:
        return ref
