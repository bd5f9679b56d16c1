"""PKCE (RFC 7636), S256 only: ``plain`` gives no protection once the request is seen."""

from __future__ import annotations

import base64
import hashlib
import re

from ostiary.protocol.compare import secrets_equal

__all__ = ["VALID_CHALLENGE", "VALID_VERIFIER", "s256", "verifier_matches"]

VALID_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
VALID_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str, challenge: str) -> bool:
    if not VALID_VERIFIER.fullmatch(verifier):
        return False
    return secrets_equal(s256(verifier), challenge)
