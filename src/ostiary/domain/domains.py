"""An organization's email domains, and the DNS record that proves an organization owns one.

A domain is *claimed* when an administrator adds it to an organization, and *verified* once the
organization's DNS answers the TXT record below (or, in development only, by hand). Only a
verified domain counts for anything that trusts it (routing an email to the organization's
identity provider, linking an upstream identity); one domain is verified for at most one
organization.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import re
from datetime import datetime

from publicsuffixlist import PublicSuffixList

__all__ = [
    "CHALLENGE_LABEL",
    "Domain",
    "DomainRuleError",
    "VerificationMethod",
    "challenge_name",
    "challenge_value",
    "normalize_domain",
]

CHALLENGE_LABEL = "_ostiary-challenge"
CHALLENGE_PREFIX = "ostiary-domain-verification="
MAX_DOMAIN_LENGTH = 253
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class DomainRuleError(ValueError):
    """A domain name that cannot be claimed; the message says why."""


class VerificationMethod(enum.StrEnum):
    DNS = "dns"
    MANUAL = "manual"  # development only


@dataclasses.dataclass(frozen=True, slots=True)
class Domain:
    id: str
    organization_id: str
    name: str
    verification_token: str  # published in DNS: not a secret
    verified_at: datetime | None
    verified_by: VerificationMethod | None
    created_at: datetime

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def record_name(self) -> str:
        return challenge_name(self.name)

    @property
    def record_value(self) -> str:
        return challenge_value(self.verification_token)


def challenge_name(domain: str) -> str:
    """The TXT record's name: ``_ostiary-challenge.acme.com``."""
    return f"{CHALLENGE_LABEL}.{domain}"


def challenge_value(token: str) -> str:
    """The TXT record's text: ``ostiary-domain-verification=<token>``."""
    return CHALLENGE_PREFIX + token


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def normalize_domain(raw: str) -> str:
    """``raw`` as a lower-case ASCII domain (IDNA for other scripts); raises DomainRuleError
    for an address, a URL, a bad label or a public suffix (``com``, ``co.uk``), which no
    organization can own."""
    text = raw.strip().rstrip(".").lower()
    if not text:
        raise DomainRuleError("Enter a domain such as acme.com.")
    if any(c in text for c in "/:@ ") or "\x00" in text:
        raise DomainRuleError(f"{raw!r} is not a domain: give the bare name, such as acme.com.")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise DomainRuleError(f"{raw!r} is an IP address, not a domain.")
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise DomainRuleError(f"{raw!r} is not a valid domain name.") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > MAX_DOMAIN_LENGTH or len(labels) < 2:
        raise DomainRuleError(f"{raw!r} is not a full domain name such as acme.com.")
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if bad is not None:
        raise DomainRuleError(
            f"{raw!r} has the label {bad!r}: labels are letters, digits and inner hyphens, "
            "1 to 63 characters."
        )
    if labels[-1].isdigit():
        raise DomainRuleError(f"{raw!r} is not a domain name.")
    if _suffixes().is_public(ascii_name):
        raise DomainRuleError(
            f"{ascii_name!r} is a public suffix that many owners share; claim a domain under "
            "it, such as acme." + ascii_name
        )
    return ascii_name
