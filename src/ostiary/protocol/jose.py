"""JSON Web Keys and JSON Web Tokens, with the algorithm named at every sign and verify.

A thin layer over joserfc: it fixes the algorithms Ostiary uses, strips private parameters from
published keys, and keeps signing separate from claims validation.
"""

from __future__ import annotations

import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64encode, urlsafe_b64encode

__all__ = [
    "ALGORITHMS",
    "PRIVATE_JWK_PARAMS",
    "generate_private_key",
    "key_set",
    "load_private_key",
    "private_key_pem",
    "public_jwk",
    "sign_jwt",
    "signature",
    "signed",
    "signing_input",
    "verify_jwt",
]

ALGORITHMS = ("RS256", "ES256")
PRIVATE_JWK_PARAMS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
PrivateKey = RSAKey | ECKey
_SIGNING = JWSRegistry(algorithms=ALGORITHMS)


def generate_private_key(algorithm: str) -> PrivateKey:
    """A fresh key: RSA 2048 for RS256 (the minimum that RFC 7518 allows), P-256 for ES256."""
    if algorithm == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


def private_key_pem(key: PrivateKey) -> bytes:
    return key.as_pem(private=True)


def load_private_key(algorithm: str, pem: bytes) -> PrivateKey:
    if algorithm == "RS256":
        return RSAKey.import_key(pem)
    return ECKey.import_key(pem)


def public_jwk(key: PrivateKey, kid: str, algorithm: str) -> dict[str, Any]:
    """The public half as a JWK with ``kid``, ``alg`` and ``use``; never a private parameter."""
    data = {k: v for k, v in key.as_dict(private=False).items() if k not in PRIVATE_JWK_PARAMS}
    data.update({"kid": kid, "alg": algorithm, "use": "sig"})
    return data


def sign_jwt(
    claims: dict[str, Any], key: PrivateKey, *, kid: str, algorithm: str, typ: str = "JWT"
) -> str:
    unsigned = signing_input(claims, kid=kid, algorithm=algorithm, typ=typ)
    return signed(unsigned, signature(unsigned, key, algorithm))


# A JWT signed in three steps rather than by ``jwt.encode``, so that a server can run only the
# middle one, the signature, on another thread. joserfc has no such split; its ``encode`` does
# ~35 us of Python work around a ~250 us RSA signature, and on a signing thread that work holds
# the GIL the event loop is waiting for. The two outer steps are RFC 7515's compact form
# (section 7.1), built with joserfc's own encoders; the signature is joserfc's algorithm.


def signing_input(claims: dict[str, Any], *, kid: str, algorithm: str, typ: str) -> bytes:
    """The JWS Signing Input: BASE64URL(header) '.' BASE64URL(claims as JSON)."""
    header = json_b64encode({"alg": algorithm, "kid": kid, "typ": typ})
    payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
    return header + b"." + urlsafe_b64encode(payload)


def signature(unsigned: bytes, key: PrivateKey, algorithm: str) -> bytes:
    """The costly step (RSA: ~0.25 ms); cryptography releases the GIL while it runs."""
    return _SIGNING.get_alg(algorithm).sign(unsigned, key)


def signed(unsigned: bytes, sig: bytes) -> str:
    """The compact serialization: the signing input, '.', BASE64URL(signature)."""
    return (unsigned + b"." + urlsafe_b64encode(sig)).decode("ascii")


def key_set(jwks: dict[str, Any]) -> KeySet:
    """Import a JWKS once (building RSA keys is costly); verify many tokens against it."""
    return KeySet.import_key_set(jwks)  # type: ignore[arg-type]


def verify_jwt(token: str, keys: KeySet | dict[str, Any], algorithms: list[str]) -> jwt.Token:
    """Check the signature against a JWKS; claims are validated separately by the caller."""
    if isinstance(keys, dict):
        keys = key_set(keys)
    return jwt.decode(token, keys, algorithms=algorithms)
