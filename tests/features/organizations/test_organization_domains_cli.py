"""``ostiary organizations`` and their domains through the real command, with a real DNS server
on 127.0.0.1: a domain is verified only once its TXT record is published, by one organization
at most, and production refuses to mark one verified by hand."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import cli, error_lines
from tests.support.dns import TxtServer, txt_server

PRODUCTION = {
    "OSTIARY_ENVIRONMENT": "production",
    "OSTIARY_ISSUER": "https://auth.example.com",
    "OSTIARY_SECRET_KEY": "d" * 48,
}


@pytest.fixture
def dns() -> Iterator[TxtServer]:
    with txt_server() as server:
        yield server


def run(data_dir: Path, dns: TxtServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return cli(data_dir, *args, env={"OSTIARY_DNS_NAMESERVERS": dns.nameservers, **env})


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert 0 == result.returncode, result.stderr
    return json.loads(result.stdout)


def error_of(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a refused command (after the line naming the database)."""
    assert 0 != result.returncode, result.stdout
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    return line


def test_a_domain_is_verified_once_its_txt_record_is_published(
    tmp_path: Path, dns: TxtServer
) -> None:
    """`domains add` prints the TXT record; `verify` refuses until the DNS answers it, then
    marks the domain verified by DNS; `show` lists it."""
    data = tmp_path / "data"
    org = ok(run(data, dns, "organizations", "create", "--name", "Acme Corp", "--json"))
    assert ("acme-corp", "Acme Corp") == (org["slug"], org["display_name"])

    added = run(data, dns, "organizations", "domains", "add", "acme-corp", "Acme.COM.")
    assert 0 == added.returncode, added.stderr
    [domain] = ok(run(data, dns, "organizations", "domains", "list", org["id"], "--json"))
    assert ("acme.com", "pending") == (domain["name"], domain["status"])
    assert "_ostiary-challenge.acme.com" == domain["record_name"]
    assert domain["record_value"].startswith("ostiary-domain-verification=")
    assert domain["record_value"] in added.stderr  # told what to publish

    refused = error_of(
        run(data, dns, "organizations", "domains", "verify", "acme-corp", "acme.com")
    )
    assert "no TXT record _ostiary-challenge.acme.com" in refused
    assert "_ostiary-challenge.acme.com" in dns.questions()  # really asked the DNS server

    dns.publish("_ostiary-challenge.acme.com", "v=spf1 -all")  # other TXT records are fine
    dns.publish("_ostiary-challenge.acme.com", domain["record_value"])
    verified = ok(
        run(data, dns, "organizations", "domains", "verify", "acme-corp", "acme.com", "--json")
    )
    assert ("verified", "dns") == (verified["status"], verified["verified_by"])
    shown = ok(run(data, dns, "organizations", "show", "acme-corp", "--json"))
    assert [("acme.com", "verified")] == [(d["name"], d["status"]) for d in shown["domains"]]


def test_a_wrong_record_value_does_not_verify(tmp_path: Path, dns: TxtServer) -> None:
    """A TXT record with another organization's token is not proof for this one."""
    data = tmp_path / "data"
    ok(run(data, dns, "organizations", "create", "--name", "Acme", "--json"))
    ok(run(data, dns, "organizations", "domains", "add", "acme", "acme.com", "--json"))
    dns.publish("_ostiary-challenge.acme.com", "ostiary-domain-verification=someone-elses")
    refused = error_of(run(data, dns, "organizations", "domains", "verify", "acme", "acme.com"))
    assert "found: ostiary-domain-verification=someone-elses" in refused
    [domain] = ok(run(data, dns, "organizations", "domains", "list", "acme", "--json"))
    assert "pending" == domain["status"]


def test_a_domain_is_verified_for_one_organization_at_most(tmp_path: Path, dns: TxtServer) -> None:
    """Two organizations may claim a domain; once one has verified it, the other can neither
    verify nor claim it again."""
    data = tmp_path / "data"
    for name in ("Acme", "Impostor"):
        ok(run(data, dns, "organizations", "create", "--name", name, "--json"))
    acme = ok(run(data, dns, "organizations", "domains", "add", "acme", "acme.com", "--json"))
    ok(run(data, dns, "organizations", "domains", "add", "impostor", "acme.com", "--json"))
    dns.publish(acme["record_name"], acme["record_value"])
    ok(run(data, dns, "organizations", "domains", "verify", "acme", "acme.com", "--json"))

    refused = error_of(run(data, dns, "organizations", "domains", "verify", "impostor", "acme.com"))
    assert "no TXT record" in refused  # the published token is Acme's
    again = error_of(run(data, dns, "organizations", "domains", "add", "acme", "acme.com"))
    assert "Acme already has the domain acme.com." in again
    other = ok(run(data, dns, "organizations", "create", "--name", "Third", "--json"))
    taken = error_of(run(data, dns, "organizations", "domains", "add", other["id"], "acme.com"))
    assert "acme.com is already verified by another organization." in taken


def test_development_may_verify_by_hand_production_may_not(tmp_path: Path, dns: TxtServer) -> None:
    """`verify --manual` works in development and is refused in production (DNS only)."""
    dev = tmp_path / "dev"
    ok(run(dev, dns, "organizations", "create", "--name", "Acme", "--json"))
    ok(run(dev, dns, "organizations", "domains", "add", "acme", "acme.com", "--json"))
    manual = ok(
        run(dev, dns, "organizations", "domains", "verify", "acme", "acme.com", "--manual",
            "--json")
    )  # fmt: skip
    assert ("verified", "manual") == (manual["status"], manual["verified_by"])

    prod = tmp_path / "prod"
    assert 0 == run(prod, dns, "migrate", **PRODUCTION).returncode
    ok(run(prod, dns, "organizations", "create", "--name", "Acme", "--json", **PRODUCTION))
    ok(run(prod, dns, "organizations", "domains", "add", "acme", "acme.com", "--json",
           **PRODUCTION))  # fmt: skip
    refused = error_of(
        run(prod, dns, "organizations", "domains", "verify", "acme", "acme.com", "--manual",
            **PRODUCTION)
    )  # fmt: skip
    assert "Production verifies domains through DNS only" in refused


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("com", "not a full domain name"),
        ("co.uk", "public suffix"),
        ("https://acme.com/", "give the bare name"),
        ("10.0.0.1", "IP address"),
        ("-acme.com", "label '-acme'"),
        ("localhost", "full domain name"),
    ],
)
def test_a_domain_nobody_can_own_is_refused(
    tmp_path: Path, dns: TxtServer, domain: str, reason: str
) -> None:
    """Public suffixes, URLs, addresses and malformed names are refused with the reason."""
    data = tmp_path / "data"
    ok(run(data, dns, "organizations", "create", "--name", "Acme", "--json"))
    refused = error_of(run(data, dns, "organizations", "domains", "add", "acme", "--", domain))
    assert reason in refused


def test_an_unreachable_dns_server_is_a_clear_error(tmp_path: Path, dns: TxtServer) -> None:
    """No answer from the DNS within its time limit is an error that says so, not a crash."""
    data = tmp_path / "data"
    ok(run(data, dns, "organizations", "create", "--name", "Acme", "--json"))
    ok(run(data, dns, "organizations", "domains", "add", "acme", "acme.com", "--json"))
    silent = {"OSTIARY_DNS_NAMESERVERS": "127.0.0.1:9"}  # discard: nothing answers there
    refused = error_of(
        cli(data, "organizations", "domains", "verify", "acme", "acme.com", env=silent)
    )
    assert "DNS lookup" in refused
