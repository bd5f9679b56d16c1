"""Signature checks and the JWKS cache. No IO: the cache says when it wants a fetch, the caller
fetches and hands the document back.

Every verify names its algorithms; the key is chosen by ``kid`` and must be a signing key of the
family the header's ``alg`` needs. Claims are checked separately (``_claims``).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeySet, OKPKey, RSAKey

from ostiary_client.errors import InvalidToken, ProviderError

__all__ = ["DEFAULT_ALGORITHMS", "JwksCache", "parse_header", "verify_signature"]

DEFAULT_ALGORITHMS = ("RS256", "ES256")
MAX_TOKEN_LENGTH = 16384
_KEY_TYPES: dict[str, type[Key]] = {
    "RS": RSAKey,
    "PS": RSAKey,
    "ES": ECKey,
    "Ed": OKPKey,
}


def _b64decode(segment: str) -> bytes:
    padded = segment + "=" * (-len(segment) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def parse_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, unverified. Raises InvalidToken if malformed."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The token is empty or too long.")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("The token is not a signed JWT (three dot-separated parts).")
    try:
        header = json.loads(_b64decode(parts[0]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken("The token's header is not base64url JSON.") from None
    if not isinstance(header, dict):
        raise InvalidToken("The token's header is not a JSON object.")
    return header


class JwksCache:
    """The provider's public keys by ``kid``.

    ``wants_fetch(kid)`` is true when there are no keys yet, when they are older than
    ``max_age``, or when ``kid`` is unknown and no unknown-kid refetch happened in the last
    ``refetch_interval`` seconds (so a stream of forged tokens cannot hammer the provider).
    """

    def __init__(
        self, *, max_age: float, refetch_interval: float, monotonic: Callable[[], float]
    ) -> None:
        self._max_age = max_age
        self._refetch_interval = refetch_interval
        self._monotonic = monotonic
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None
        self._last_unknown_refetch: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> Key | None:
        return self._keys.get(kid)

    def wants_fetch(self, kid: str) -> bool:
        with self._lock:
            now = self._monotonic()
            if self._fetched_at is None or now - self._fetched_at >= self._max_age:
                return True
            if kid in self._keys:
                return False
            last = self._last_unknown_refetch
            if last is not None and now - last < self._refetch_interval:
                return False
            self._last_unknown_refetch = now
            return True

    def store(self, document: Any) -> None:
        keys = _import_jwks(document)
        with self._lock:
            self._keys = keys
            self._fetched_at = self._monotonic()


def _import_jwks(document: Any) -> dict[str, Key]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ProviderError("The JWKS is not a JSON object with a 'keys' list.")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue  # Ostiary gives every key a kid; a key without one cannot be chosen
        if entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = KeySet.import_key_set({"keys": [entry]}).keys[0]
        except (JoseError, ValueError, TypeError):
            continue  # an unknown key type must not hide the others
    return keys


def verify_signature(
    token: str, header: Mapping[str, Any], key: Key, algorithms: Sequence[str]
) -> dict[str, Any]:
    """Check the signature with ``key`` for one of ``algorithms``; returns the claims."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidToken(f"The token's algorithm {alg!r} is not one of {', '.join(algorithms)}.")
    key_alg = key.alg
    if key_alg not in (None, alg):
        raise InvalidToken(f"The key {header.get('kid')!r} is for {key_alg}, not {alg}.")
    expected = _KEY_TYPES.get(alg[:2])
    if expected is None or not isinstance(key, expected):
        raise InvalidToken(f"The key {header.get('kid')!r} cannot verify {alg}.")
    try:
        decoded = jwt.decode(token, key, algorithms=[alg])
    except (JoseError, ValueError) as err:
        raise InvalidToken(f"The token's signature is not valid ({err}).") from None
    return dict(decoded.claims)
