"""Signing keys: created on first start, rotated on demand, published as a JWKS."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import KeySet

from ostiary.domain.ids import new_id
from ostiary.domain.keys import (
    SigningKey,
    current_signing_key,
    in_rotation_order,
    key_statuses,
    next_change,
    pending_keys,
    published_keys,
    superseded_keys,
)
from ostiary.protocol import jose
from ostiary.protocol.digests import KeyVault
from ostiary.runtime.signing_processes import SigningProcesses
from ostiary.services.clock import Clock
from ostiary.storage.keys import KeyStore

__all__ = ["KeyInfo", "KeyService", "RotatedKey"]

CACHE_SECONDS = 5.0  # how long one process trusts its copy of the key table
CLOCK_SKEW = timedelta(minutes=2)
# RSA signing is the costliest step of a token response (0.3-0.9 ms per JWT here). A serving
# worker signs in child processes (runtime/signing_processes.py says why); elsewhere (the CLI,
# tests, an app built by hand, OSTIARY_SIGNING_PROCESSES=0) on the event loop's default thread
# pool through asyncio.to_thread, as cryptography releases the GIL while it signs.


@dataclasses.dataclass(frozen=True, slots=True)
class _KeyView:
    """What the key table means from ``since`` until ``until`` (no key activates or stops being
    published in between): the signing key and the JWKS, worked out once rather than on every
    token, /keys and bearer request."""

    keys: list[SigningKey]  # the loaded table this was worked out from
    since: datetime
    until: datetime
    signing: SigningKey | None
    jwks: dict[str, Any]
    jwks_json: bytes
    kids: tuple[str, ...]

    @classmethod
    def of(cls, keys: list[SigningKey], retention: timedelta, now: datetime) -> _KeyView:
        jwks = {"keys": [key.public_jwk for key in published_keys(keys, now, retention)]}
        return cls(
            keys=keys,
            since=now,
            until=next_change(keys, now, retention),
            signing=current_signing_key(keys, now),
            jwks=jwks,
            jwks_json=json.dumps(jwks, separators=(",", ":")).encode(),
            kids=tuple(key["kid"] for key in jwks["keys"]),
        )

    def holds(self, keys: list[SigningKey], now: datetime) -> bool:
        return keys is self.keys and self.since <= now < self.until


@dataclasses.dataclass(frozen=True, slots=True)
class KeyInfo:
    kid: str
    algorithm: str
    status: str  # next | active | retired | superseded | expired (domain/keys.py)
    created_at: str
    activates_at: str
    superseded_by: str | None = None  # the key of the later rotation that superseded it


@dataclasses.dataclass(frozen=True, slots=True)
class RotatedKey(KeyInfo):
    """The key a rotation added, and the keys that were waiting to sign and which it
    superseded: those never sign (the newest rotation wins, domain/keys.py)."""

    superseded: tuple[KeyInfo, ...] = ()


class KeyService:
    def __init__(
        self,
        store: KeyStore,
        vault: KeyVault,
        clock: Clock,
        *,
        algorithm: str,
        activation_delay: int,
        longest_token_ttl: int,
        processes: SigningProcesses | None = None,
    ) -> None:
        """``longest_token_ttl``: the longest lifetime any token signed now may have; retired
        keys stay published that long (plus clock skew) after they stop signing. With
        ``processes``, signatures are computed there rather than on threads."""
        self._store = store
        self._vault = vault
        self._clock = clock
        self._algorithm = algorithm
        self._activation_delay = activation_delay
        self._longest_token_ttl = longest_token_ttl
        self._cached: tuple[float, list[SigningKey], timedelta] | None = None
        self._private: dict[str, tuple[jose.PrivateKey, bytes]] = {}  # kid -> (key, its PEM)
        self.processes = processes
        self._key_sets: dict[tuple[str, ...], KeySet] = {}
        self._view: _KeyView | None = None

    async def ensure_key(self) -> None:
        """Create the first signing key, active at once, when there is none."""
        if not await self._store.all():
            await self._create(delay=0)

    async def rotate(self, delay: int | None = None) -> RotatedKey:
        """Add a key that is published now and signs after ``delay`` seconds (default from
        config), so relying parties have fetched it before they meet a token it signed. A key
        still waiting to sign is superseded by it and never signs; the result names it."""
        key = await self._create(self._activation_delay if delay is None else delay)
        keys, retention = await self._load(fresh=True)
        infos = self._infos(keys, retention)
        superseded = superseded_keys(keys)
        return RotatedKey(
            **dataclasses.asdict(infos[key.kid]),
            superseded=tuple(
                infos[kid] for kid, after in superseded.items() if after.kid == key.kid
            ),
        )

    async def pending(self) -> list[KeyInfo]:
        """The keys waiting to sign: the ones a rotation made now would supersede."""
        keys, retention = await self._load(fresh=True)
        infos = self._infos(keys, retention)
        return [infos[key.kid] for key in pending_keys(keys, self._clock.now())]

    async def _create(self, delay: int) -> SigningKey:
        now = self._clock.now()
        kid = new_id("key")
        private = jose.generate_private_key(self._algorithm)
        key = SigningKey(
            id=kid,
            algorithm=self._algorithm,
            public_jwk=jose.public_jwk(private, kid, self._algorithm),
            encrypted_private_key=self._vault.encrypt(jose.private_key_pem(private), kid.encode()),
            created_at=now,
            activates_at=now + timedelta(seconds=delay),
        )
        await self._store.insert(key)
        self._cached = None
        return key

    async def _load(self, *, fresh: bool = False) -> tuple[list[SigningKey], timedelta]:
        cached = self._cached
        if not fresh and cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1], cached[2]
        keys = await self._store.all()
        retention = timedelta(seconds=self._longest_token_ttl) + CLOCK_SKEW
        self._cached = (time.monotonic(), keys, retention)
        return keys, retention

    async def _current(self) -> _KeyView:
        keys, retention = await self._load()
        now = self._clock.now()
        view = self._view
        if view is None or not view.holds(keys, now):
            view = self._view = _KeyView.of(keys, retention, now)
        return view

    async def verification_keys(self) -> KeySet:
        """The published keys as an imported key set, cached per set of key ids."""
        view = await self._current()
        found = self._key_sets.get(view.kids)
        if found is None:
            if len(self._key_sets) > 8:
                self._key_sets.clear()
            found = self._key_sets[view.kids] = jose.key_set(view.jwks)
        return found

    async def jwks(self) -> dict[str, Any]:
        return {"keys": list((await self._current()).jwks["keys"])}

    async def jwks_json(self) -> bytes:
        """The JWKS as served at /keys."""
        return (await self._current()).jwks_json

    async def every_public_jwk(self) -> dict[str, Any]:
        """Every key ever used, retired or not: for checking our own old tokens where expiry does
        not matter (an ``id_token_hint`` at logout may be old)."""
        keys, _ = await self._load()
        return {"keys": [key.public_jwk for key in keys]}

    async def all(self) -> list[KeyInfo]:
        """Every key, the latest rotation first."""
        keys, retention = await self._load(fresh=True)
        infos = self._infos(keys, retention)
        return [infos[key.kid] for key in reversed(in_rotation_order(keys))]

    def _infos(self, keys: list[SigningKey], retention: timedelta) -> dict[str, KeyInfo]:
        statuses = key_statuses(keys, self._clock.now(), retention)
        superseded = superseded_keys(keys)
        return {
            key.kid: KeyInfo(
                kid=key.kid,
                algorithm=key.algorithm,
                status=statuses[key.kid],
                created_at=key.created_at.isoformat(),
                activates_at=key.activates_at.isoformat(),
                superseded_by=superseded[key.kid].kid if key.kid in superseded else None,
            )
            for key in keys
        }

    async def signing_key(self) -> tuple[str, str, jose.PrivateKey]:
        """``(kid, algorithm, private key)`` of the key that signs now."""
        kid, algorithm, private, _pem = await self._signer()
        return kid, algorithm, private

    async def _signer(self) -> tuple[str, str, jose.PrivateKey, bytes]:
        """``(kid, algorithm, private key, its PEM)`` of the key that signs now."""
        key = (await self._current()).signing
        if key is None:
            raise RuntimeError("no active signing key: run `ostiary keys rotate --delay 0`")
        loaded = self._private.get(key.kid)
        if loaded is None:
            pem = self._vault.decrypt(key.encrypted_private_key, key.kid.encode())
            loaded = self._private[key.kid] = (jose.load_private_key(key.algorithm, pem), pem)
        return key.kid, key.algorithm, *loaded

    async def sign(self, claims: dict[str, Any], *, typ: str) -> str:
        kid, algorithm, private, pem = await self._signer()
        # Only the signature leaves the loop (on a thread, it then holds the GIL for
        # microseconds).
        unsigned = jose.signing_input(claims, kid=kid, algorithm=algorithm, typ=typ)
        if self.processes is not None:
            signature = await self.processes.sign(kid, algorithm, pem, unsigned)
        else:
            signature = await asyncio.to_thread(jose.signature, unsigned, private, algorithm)
        return jose.signed(unsigned, signature)
