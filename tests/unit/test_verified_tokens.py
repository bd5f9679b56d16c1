"""The remembered signature checks of access tokens: bound to the key set they passed under,
bounded in size, and never holding the token itself."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from joserfc.jwk import KeySet

from ostiary.protocol import jose
from ostiary.services.bearer import VerifiedTokens


def _key_set() -> KeySet:
    key = jose.generate_private_key("RS256")
    return jose.key_set({"keys": [jose.public_jwk(key, "key_1", "RS256")]})


def test_a_check_counts_only_for_the_key_set_it_passed_under() -> None:
    cache = VerifiedTokens()
    before, after = _key_set(), _key_set()
    key = cache.key("a.b.c")
    cache.put(key, before, {"sub": "usr_1"})
    assert {"sub": "usr_1"} == cache.get(key, before)
    assert cache.get(key, after) is None


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = VerifiedTokens(size=2)
    keys = _key_set()
    first, second, third = (cache.key(t) for t in ("1.1.1", "2.2.2", "3.3.3"))
    cache.put(first, keys, {"n": 1})
    cache.put(second, keys, {"n": 2})
    assert cache.get(first, keys) is not None  # now the most recently used
    cache.put(third, keys, {"n": 3})
    assert cache.get(second, keys) is None
    assert {"n": 1} == cache.get(first, keys)
    assert {"n": 3} == cache.get(third, keys)


def test_callers_get_their_own_copy_and_the_token_is_not_kept() -> None:
    cache = VerifiedTokens()
    keys = _key_set()
    token = "header.payload.signature"
    key = cache.key(token)
    cache.put(key, keys, {"sub": "usr_1"})
    claims = cache.get(key, keys)
    assert claims is not None
    claims["sub"] = "usr_2"
    assert {"sub": "usr_1"} == cache.get(key, keys)
    assert token.encode() != key and len(key) == 32
