"""Keyed digests for high-entropy secrets, and the encryption of signing keys at rest.

Client secrets, authorization codes, refresh tokens and session ids are 256-bit random values, so
a fast keyed digest (HMAC-SHA-256) is the right store: no brute force is possible and lookups stay
O(1). Each purpose gets its own HMAC key, derived with HKDF from ``OSTIARY_SECRET_KEY``, so a
digest of one kind can never be confused with another. Changing the secret key invalidates them.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ostiary.protocol.compare import secrets_equal

__all__ = ["DecryptionError", "Digester", "KeyVault", "derive_key"]


def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    """A sub-key of ``secret_key`` bound to ``purpose`` (HKDF-SHA-256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=b"ostiary", info=purpose.encode())
    return hkdf.derive(secret_key.encode())


class Digester:
    """HMAC-SHA-256 digests with one derived key per purpose (``client_secret``, ``code``, …)."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key
        self._keys: dict[str, bytes] = {}

    def _key(self, purpose: str) -> bytes:
        key = self._keys.get(purpose)
        if key is None:
            key = self._keys[purpose] = derive_key(self._secret_key, f"digest:{purpose}")
        return key

    def digest(self, purpose: str, value: str) -> str:
        # surrogatepass: any text has a digest (a lone surrogate in a request must not raise)
        data = value.encode("utf-8", "surrogatepass")
        return hmac.new(self._key(purpose), data, hashlib.sha256).hexdigest()

    def matches(self, purpose: str, value: str, expected_digest: str) -> bool:
        """Constant-time comparison of ``value``'s digest with a stored one."""
        return secrets_equal(self.digest(purpose, value), expected_digest)


class DecryptionError(Exception):
    """Encrypted data was altered, or was encrypted under another secret key."""


class KeyVault:
    """AES-256-GCM under a key derived from ``OSTIARY_SECRET_KEY``; the key id is bound as AAD so
    an encrypted private key cannot be swapped onto another key's row."""

    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(derive_key(secret_key, "signing-key-encryption"))

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(12)
        return b"\x01" + nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes) -> bytes:
        if not blob or blob[0] != 1:
            raise DecryptionError("unknown encryption format")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], associated_data)
        except InvalidTag:
            raise DecryptionError(
                "cannot decrypt a signing key: OSTIARY_SECRET_KEY differs from the one that "
                "encrypted it, or the data was altered"
            ) from None
