"""Rules for the URLs an app registers with Ostiary, and for matching them at use.

An app registers four kinds of URL (`UriKind`): redirect URIs (allowlist for ``redirect_uri`` at
``/oauth/authorize``), post-logout redirect URIs (allowlist for ``post_logout_redirect_uri`` at
``/oidc/logout``), one initiate-login URI (where Ostiary sends a browser to (re)start login at the
app) and one back-channel logout URI (where Ostiary's server POSTs logout tokens).

`validate_registered_uri` checks a URL when it is registered and raises `RedirectUriError` with a
stable ``rule`` id and a full sentence for the user.  The rules, for development
(``production=False``) and production:

* **Text** (both): not empty, at most `MAX_URI_LENGTH` (256) characters, no whitespace or control
  characters, no query string (``?``) and no fragment (``#``); a back-channel logout URI alone may
  have a non-empty query (Back-Channel Logout 1.0 §2.2), e.g. mod_auth_openidc's
  ``https://app.example.com/redirect_uri?logout=backchannel``.  Non-ASCII hosts must be written in
  punycode, other non-ASCII characters percent-encoded.  Scheme and host are lower case, because
  URLs are compared character by character.
* **Schemes**: ``http`` and ``https`` (development), ``https`` only (production), plus private-use
  ("custom") schemes such as ``com.example.app:/cb`` or ``myapp://callback`` for native apps only,
  in both environments.  A custom scheme is a valid RFC 3986 scheme, either reverse-DNS style (with
  dots, no empty part) or plain, followed by a path starting with ``/``.  Dangerous schemes
  (javascript, data, vbscript, file, about, blob, filesystem, ftp, ws, wss) are always refused.
* **http(s) URLs** have a host, no userinfo (``user@``), a valid DNS name or IP literal as host, a
  port from 1 to 65535 (no leading zeros) if any, and a path of valid URL characters.
* **localhost, 127.0.0.1, [::1]**: allowed in development.  In production loopback IP literals
  (127.0.0.0/8, ``[::1]``) are allowed for native apps only, and the name ``localhost`` (or
  ``*.localhost``) is always refused (RFC 8252 §8.3).
* **Wildcards** (development only, redirect and post-logout kinds only): one ``*``, as the whole
  leftmost label of an http(s) host, in front of a domain that is not a public suffix.  So
  ``https://*.acme.com/cb`` is fine; ``*.com``, ``*.co.uk``, ``a.*.acme.com``, ``*.*.acme.com``,
  ``foo*.acme.com`` and ``*`` in the scheme, port or path are refused.  Initiate-login and
  back-channel logout URLs must be one concrete URL, since Ostiary itself sends browsers or
  requests there.
* **Back-channel logout**: web (server) apps only, http(s) only.

`match_redirect_uri` checks a presented ``redirect_uri`` or ``post_logout_redirect_uri`` against
the registered list.  Matching is exact string equality (scheme, host, port, path and trailing
slash all count), with two exceptions: a wildcard entry matches exactly one DNS label in place of
``*`` (letters, digits and hyphens, 1 to 63 characters, not starting or ending with a hyphen), and
for native apps a loopback IP entry (``http://127.0.0.1/cb``, ``http://[::1]/cb``) matches the same
URL on any port (RFC 8252 §7.3).  Registered entries are re-validated for the
current environment, so an entry registered in development (localhost, wildcard, http) never
matches in production.  A presented URI with a query, fragment, userinfo, whitespace or over 256
characters never matches.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
import unicodedata
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

__all__ = [
    "MAX_URI_LENGTH",
    "RedirectUriError",
    "UriKind",
    "match_redirect_uri",
    "validate_registered_uri",
]

MAX_URI_LENGTH = 256

APP_TYPES = frozenset({"web", "spa", "native"})
WEB_SCHEMES = frozenset({"http", "https"})
DANGEROUS_SCHEMES = frozenset(
    {"javascript", "data", "vbscript", "file", "about", "blob", "filesystem", "ftp", "ws", "wss"}
)

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_PORT_RE = re.compile(r"[1-9][0-9]{0,4}")
_DNS_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_WILDCARD_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")
_PATH_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"
)
_QUERY_CHARS = _PATH_CHARS | {"?"}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_SHOWN_MAX = 80


class UriKind(enum.StrEnum):
    """What a registered URL is for; the rules differ slightly per kind."""

    REDIRECT = "redirect"
    POST_LOGOUT = "post_logout"
    INITIATE_LOGIN = "initiate_login"
    BACKCHANNEL_LOGOUT = "backchannel_logout"


_KIND_LABELS = {
    UriKind.REDIRECT: "Redirect URI",
    UriKind.POST_LOGOUT: "Post-logout redirect URI",
    UriKind.INITIATE_LOGIN: "Initiate-login URI",
    UriKind.BACKCHANNEL_LOGOUT: "Back-channel logout URI",
}
_WILDCARD_KINDS = frozenset({UriKind.REDIRECT, UriKind.POST_LOGOUT})
# Back-Channel Logout 1.0 §2.2: the URI "MAY contain port, path, and query parameter components".
_QUERY_KINDS = frozenset({UriKind.BACKCHANNEL_LOGOUT})
_APP_NAMES = {"web": "a web app", "spa": "a single-page (SPA) app", "native": "a native app"}


class RedirectUriError(ValueError):
    """A registered URL breaks a rule.

    `rule` is a short stable id, ``str(err)`` a full sentence that names the rule and says how to
    fix it (shown to a user of the CLI / dashboard / API).
    """

    rule: str

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class _Refusal(Exception):
    """Internal: a broken rule, with the reason only; turned into a `RedirectUriError`."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _WebUri:
    """The parts of an http(s) URL that the rules look at."""

    scheme: str
    host: str
    port: str | None
    path: str


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    """The public suffix list, loaded once on first use (loading it takes a while)."""
    return PublicSuffixList()


# --------------------------------------------------------------------------- public API


def validate_registered_uri(uri: str, *, kind: UriKind, app_type: str, production: bool) -> str:
    """Check a URL when it is registered. Returns it unchanged, or raises RedirectUriError."""
    _check_app_type(app_type)
    try:
        _validate(uri, kind=kind, app_type=app_type, production=production)
    except _Refusal as refusal:
        message = f"{_KIND_LABELS[kind]} {_shown(uri)} is not allowed ({refusal.rule}): "
        raise RedirectUriError(refusal.rule, message + refusal.reason) from None
    return uri


def match_redirect_uri(
    registered: Sequence[str], presented: str, *, app_type: str, production: bool
) -> bool:
    """True when `presented` (a redirect_uri or post_logout_redirect_uri sent by a client) is
    allowed by one of the registered entries."""
    _check_app_type(app_type)
    try:
        _check_text(presented)
    except _Refusal:
        return False
    return any(
        _entry_matches(entry, presented, app_type=app_type, production=production)
        for entry in registered
    )


# --------------------------------------------------------------------------- validation steps


def _check_app_type(app_type: str) -> None:
    if app_type not in APP_TYPES:
        raise RedirectUriError(
            "unknown_app_type",
            f"App type {app_type!r} is unknown (unknown_app_type): use 'web', 'spa' or 'native'.",
        )


def _validate(uri: str, *, kind: UriKind, app_type: str, production: bool) -> None:
    _check_kind_for_app(kind, app_type)
    _check_text(uri, query_allowed=kind in _QUERY_KINDS)
    uri, _, query = uri.partition("?")
    scheme, rest = _split_scheme(uri)
    _check_scheme(scheme, kind=kind, app_type=app_type, production=production)
    if "*" in uri or "*" in query:
        _check_wildcard_allowed(kind, production)
    if query:
        _check_url_characters(query, what="the query", allowed=_QUERY_CHARS, rule="invalid_query")
    if scheme in WEB_SCHEMES:
        parts = _parse_web_uri(scheme, rest)
        _check_environment(parts, app_type=app_type, production=production)
    else:
        _check_custom_rest(scheme, rest)


def _check_kind_for_app(kind: UriKind, app_type: str) -> None:
    if kind is UriKind.BACKCHANNEL_LOGOUT and app_type != "web":
        raise _Refusal(
            "backchannel_web_only",
            f"back-channel logout is only for web (server) apps, because Ostiary's server POSTs "
            f"the logout token to it; {_APP_NAMES[app_type]} can't receive it. Leave it empty "
            "and use RP-initiated logout (post-logout redirect URIs) instead.",
        )


def _check_text(uri: str, *, query_allowed: bool = False) -> None:
    """Rules on the raw text: empty, length, whitespace, control characters, '?' and '#'.
    With `query_allowed` (back-channel logout URIs) a non-empty query may follow the path."""
    if not uri:
        raise _Refusal(
            "empty", "it is empty; enter a full URL such as 'https://app.example.com/callback'."
        )
    if len(uri) > MAX_URI_LENGTH:
        raise _Refusal(
            "too_long",
            f"it is {len(uri)} characters long and the limit is {MAX_URI_LENGTH}; "
            "use a shorter URL.",
        )
    _check_characters(uri)
    if "#" in uri:
        raise _Refusal(
            "fragment",
            f"it contains a fragment ({uri[uri.index('#') :]!r}); remove everything from '#' on, "
            "fragments are not allowed.",
        )
    if "?" in uri and query_allowed:
        _check_query_not_empty(uri)
    elif "?" in uri:
        raise _Refusal(
            "query",
            f"it contains a query string ({uri[uri.index('?') :]!r}); remove everything from "
            "'?' on. URLs are compared exactly, so carry data in the 'state' parameter instead.",
        )


def _check_query_not_empty(uri: str) -> None:
    if uri.endswith("?"):
        raise _Refusal(
            "query",
            "it ends with an empty query ('?'); remove the '?', or add the parameters the app "
            "expects, e.g. '?logout=backchannel'.",
        )


def _check_characters(uri: str) -> None:
    for position, char in enumerate(uri):
        if char.isspace():
            raise _Refusal(
                "whitespace",
                f"it contains whitespace ({char!r} at position {position}); remove it, or "
                "percent-encode a space in the path as '%20'.",
            )
        if unicodedata.category(char).startswith("C"):
            raise _Refusal(
                "control_character",
                f"it contains the invisible control character U+{ord(char):04X} at position "
                f"{position}; retype the URL by hand.",
            )


def _split_scheme(uri: str) -> tuple[str, str]:
    scheme, colon, rest = uri.partition(":")
    if "*" in scheme and colon:
        raise _Refusal(
            "wildcard_not_in_host",
            f"the scheme {scheme!r} contains a wildcard ('*'); a wildcard is only allowed as the "
            "whole leftmost label of the host, e.g. 'https://*.example.com/cb'.",
        )
    if not colon or not _SCHEME_RE.fullmatch(scheme):
        raise _Refusal(
            "invalid_scheme",
            "it does not start with a valid scheme; write the full URL including the scheme, "
            "e.g. 'https://app.example.com/callback' (or 'com.example.app:/callback' for a "
            "native app).",
        )
    if "." in scheme and "" in scheme.split("."):
        raise _Refusal(
            "invalid_scheme",
            f"the scheme {scheme!r} has an empty part between dots; use a reverse-DNS name such "
            "as 'com.example.app'.",
        )
    return scheme, rest


def _check_scheme(scheme: str, *, kind: UriKind, app_type: str, production: bool) -> None:
    lowered = scheme.lower()
    if lowered in DANGEROUS_SCHEMES:
        raise _Refusal(
            "dangerous_scheme",
            f"the scheme '{lowered}:' is never allowed because it can run code or reach unsafe "
            "resources; use an https URL (or a custom app scheme for a native app).",
        )
    if scheme != lowered:
        raise _Refusal(
            "uppercase_scheme",
            f"the scheme {scheme!r} contains upper-case letters; write it in lower case "
            f"({lowered!r}), because URLs are compared character by character.",
        )
    if scheme in WEB_SCHEMES:
        return
    if kind is UriKind.BACKCHANNEL_LOGOUT:
        raise _Refusal(
            "backchannel_custom_scheme",
            f"back-channel logout needs an {_web_schemes_hint(production)} URL that Ostiary's "
            f"server can POST to, not the custom scheme '{scheme}:'.",
        )
    if app_type != "native":
        raise _Refusal(
            "custom_scheme_not_native",
            f"the custom scheme '{scheme}:' is only for native (desktop/mobile) apps; "
            f"{_APP_NAMES[app_type]} must use an {_web_schemes_hint(production)} URL.",
        )


def _web_schemes_hint(production: bool) -> str:
    return "https" if production else "http(s)"


def _check_wildcard_allowed(kind: UriKind, production: bool) -> None:
    if kind not in _WILDCARD_KINDS:
        raise _Refusal(
            "wildcard_not_allowed_for_kind",
            "wildcards ('*') are not allowed here, because Ostiary itself sends browsers or "
            "requests to this URL, so it must be one concrete URL.",
        )
    if production:
        raise _Refusal(
            "wildcard_in_production",
            "wildcards ('*') are only allowed in development; register each production URL "
            "explicitly.",
        )


def _check_custom_rest(scheme: str, rest: str) -> None:
    """Rules for what follows a custom scheme, e.g. '/callback' in 'com.example.app:/callback'."""
    if not rest.startswith("/"):
        raise _Refusal(
            "custom_scheme_path",
            f"after '{scheme}:' a path starting with '/' must follow, e.g. '{scheme}:/callback' "
            f"or '{scheme}://callback'.",
        )
    if "*" in rest:
        raise _Refusal(
            "wildcard_not_in_host",
            "a wildcard ('*') is only allowed in the host of an http(s) URL, not in a URL with "
            "a custom scheme; register the exact URL.",
        )
    if rest.startswith("//") and "@" in rest[2:].partition("/")[0]:
        raise _userinfo_refusal(rest[2:].partition("@")[0])
    _check_url_characters(rest, what="the URL", allowed=_PATH_CHARS, rule="invalid_path")


# --------------------------------------------------------------------------- http(s) URLs


def _parse_web_uri(scheme: str, rest: str) -> _WebUri:
    """Split and check the host, port and path of an http(s) URL (the part after 'scheme:')."""
    if not rest.startswith("//"):
        raise _Refusal(
            "missing_host",
            f"the URL has no host; write it as '{scheme}://host/path', e.g. "
            f"'{scheme}://app.example.com/callback'.",
        )
    authority, slash, path = rest[2:].partition("/")
    path = slash + path
    if "@" in authority:
        raise _userinfo_refusal(authority.rpartition("@")[0])
    host, port = _split_host_port(authority)
    if not host:
        raise _Refusal(
            "missing_host",
            f"the URL has no host; write it as '{scheme}://host/path', e.g. "
            f"'{scheme}://app.example.com/callback'.",
        )
    if port is not None:
        _check_port(port)
    if "*" in path:
        raise _Refusal(
            "wildcard_not_in_host",
            f"the path {path!r} contains a wildcard ('*'); a wildcard is only allowed as the "
            "whole leftmost label of the host, e.g. 'https://*.example.com/cb'.",
        )
    _check_host(host)
    _check_url_characters(path, what="the path", allowed=_PATH_CHARS, rule="invalid_path")
    return _WebUri(scheme=scheme, host=host, port=port, path=path)


def _userinfo_refusal(userinfo: str) -> _Refusal:
    return _Refusal(
        "userinfo",
        f"it contains user information ({userinfo + '@'!r}) before the host; remove it, "
        "credentials in URLs are not allowed.",
    )


def _split_host_port(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise _Refusal(
                "invalid_host",
                f"the host {authority!r} opens '[' without closing ']'; write an IPv6 address "
                "as '[::1]'.",
            )
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise _Refusal(
                "invalid_host",
                f"unexpected {after!r} after the IPv6 address {host!r}; only ':port' may follow.",
            )
        return host, (after[1:] if after else None)
    if authority.count(":") > 1:
        raise _Refusal(
            "invalid_host",
            f"the host {authority!r} contains several ':'; put an IPv6 address in brackets, "
            "e.g. 'http://[::1]:8080/cb'.",
        )
    host, colon, port = authority.partition(":")
    return host, (port if colon else None)


def _check_port(port: str) -> None:
    if "*" in port:
        raise _Refusal(
            "wildcard_not_in_host",
            "the port contains a wildcard ('*'); a wildcard is only allowed as the whole "
            "leftmost label of the host, and the port must be a number.",
        )
    if not _PORT_RE.fullmatch(port) or int(port) > 65535:
        raise _Refusal(
            "invalid_port",
            f"the port {port!r} is not a number from 1 to 65535 (without leading zeros); fix it "
            "or leave it out.",
        )


def _check_host(host: str) -> None:
    if not host.isascii():
        raise _Refusal(
            "non_ascii_host",
            f"the host {host!r} contains non-ASCII characters; register its punycode form"
            f"{_punycode_hint(host)}.",
        )
    if host != host.lower():
        raise _Refusal(
            "uppercase_host",
            f"the host {host!r} contains upper-case letters; write it in lower case "
            f"({host.lower()!r}), because URLs are compared character by character.",
        )
    if host.startswith("["):
        _check_ipv6_literal(host)
    elif "*" in host:
        _check_wildcard_host(host)
    else:
        _check_dns_host(host)


def _punycode_hint(host: str) -> str:
    try:
        return f" {host.encode('idna').decode('ascii')!r}"
    except UnicodeError:
        return " (the 'xn--' form)"


def _check_ipv6_literal(host: str) -> None:
    inner = host[1:-1]
    if "*" in inner:
        raise _wildcard_ip_refusal(host)
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        raise _Refusal(
            "invalid_host",
            f"{host!r} is not a valid IPv6 address; write it like '[::1]'.",
        ) from None


def _check_dns_host(host: str) -> None:
    if _is_ipv4(host):
        return
    labels = host.split(".")
    bad = next((label for label in labels if not _DNS_LABEL_RE.fullmatch(label)), None)
    if bad is not None or len(host) > 253:
        shown = "an empty label" if bad == "" else repr(bad)
        raise _Refusal(
            "invalid_host",
            f"the host {host!r} is not a valid DNS name ({shown}); use only letters, digits and "
            "hyphens between dots, like 'app.example.com'.",
        )
    if labels[-1].isdigit():
        raise _Refusal(
            "invalid_host",
            f"the host {host!r} looks like an IPv4 address but is not a valid one; write it "
            "like '127.0.0.1'.",
        )


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _check_url_characters(text: str, *, what: str, allowed: frozenset[str], rule: str) -> None:
    """Every character of a path or query is an allowed URL character or a '%XX' escape."""
    for position, char in enumerate(text):
        if not char.isascii():
            raise _Refusal(
                "non_ascii",
                f"{what} contains the non-ASCII character {char!r}; percent-encode it as "
                f"{urllib.parse.quote(char)!r}.",
            )
        if char == "%":
            escape = text[position + 1 : position + 3]
            if len(escape) != 2 or not _HEX_DIGITS.issuperset(escape):
                raise _Refusal(
                    rule,
                    f"{what} has '%' not followed by two hex digits ({'%' + escape!r}); write a "
                    "literal '%' as '%25'.",
                )
            continue
        if char not in allowed:
            raise _Refusal(
                rule,
                f"{what} contains {char!r}, which is not allowed in a URL; percent-encode it as "
                f"{urllib.parse.quote(char)!r}.",
            )


# --------------------------------------------------------------------------- wildcards


def _check_wildcard_host(host: str) -> None:
    """'*' must be the whole leftmost label, once, in front of a non-public-suffix domain."""
    if host.count("*") > 1:
        raise _Refusal(
            "wildcard_multiple",
            f"the host {host!r} contains {host.count('*')} wildcards; only one '*' is allowed, "
            "as the leftmost label, e.g. '*.example.com'.",
        )
    labels = host.split(".")
    index = next(i for i, label in enumerate(labels) if "*" in label)
    if labels[index] != "*":
        raise _Refusal(
            "wildcard_partial_label",
            f"the wildcard in {labels[index]!r} must be a whole label on its own; write "
            f"'*.{'.'.join(labels[index + 1 :]) or 'example.com'}' instead.",
        )
    if index != 0:
        raise _Refusal(
            "wildcard_not_leftmost",
            f"the wildcard in {host!r} must be the leftmost label of the host, e.g. "
            f"'*.{'.'.join(labels[index + 1 :]) or 'example.com'}'.",
        )
    _check_wildcard_base(".".join(labels[1:]))


def _check_wildcard_base(base: str) -> None:
    if base and _is_ipv4(base):
        raise _wildcard_ip_refusal(base)
    if base:
        _check_dns_host(base)
    if not base or _public_suffix_list().is_public(base):
        raise _Refusal(
            "wildcard_public_suffix",
            f"'*.{base}' would match every domain under the public suffix {base!r}; put the "
            f"wildcard in front of a domain you own, e.g. '*.example.{base}'."
            if base
            else "a lone '*' would match every host; put the wildcard in front of a domain you "
            "own, e.g. '*.example.com'.",
        )


def _wildcard_ip_refusal(host: str) -> _Refusal:
    return _Refusal(
        "wildcard_ip_address",
        f"a wildcard can't be combined with the IP address {host!r}; register each URL explicitly.",
    )


# --------------------------------------------------------------------------- environment


def _is_localhost_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _is_loopback_ip(host: str) -> bool:
    literal = host[1:-1] if host.startswith("[") else host
    try:
        return ipaddress.ip_address(literal).is_loopback
    except ValueError:
        return False


def _check_environment(parts: _WebUri, *, app_type: str, production: bool) -> None:
    """Production: https only, no localhost, loopback IP literals only for native apps."""
    if not production:
        return
    if _is_localhost_name(parts.host):
        fix = (
            "use the loopback IP instead, e.g. 'http://127.0.0.1/callback' or "
            "'http://[::1]/callback' (RFC 8252 §8.3)"
            if app_type == "native"
            else f"register the public https URL of {_APP_NAMES[app_type]}"
        )
        raise _Refusal(
            "localhost_in_production",
            f"the host {parts.host!r} is not allowed in production; {fix}.",
        )
    if _is_loopback_ip(parts.host):
        if app_type == "native":
            return
        raise _Refusal(
            "loopback_in_production",
            f"the loopback address {parts.host!r} is only allowed in production for native "
            f"apps; register the public https URL of {_APP_NAMES[app_type]}.",
        )
    if parts.scheme == "http":
        raise _Refusal(
            "http_in_production",
            "plain http is not allowed in production; use https, e.g. "
            f"'https://{parts.host}{'' if parts.port is None else ':' + parts.port}{parts.path}'.",
        )


# --------------------------------------------------------------------------- matching


def _entry_matches(entry: str, presented: str, *, app_type: str, production: bool) -> bool:
    """Whether one registered entry allows `presented`; entries invalid here never match."""
    try:
        _validate(entry, kind=UriKind.REDIRECT, app_type=app_type, production=production)
    except _Refusal:
        return False
    if "*" in entry:
        return _wildcard_matches(entry, presented)
    if entry == presented:
        return True
    if app_type == "native":
        return _loopback_matches(entry, presented)
    return False


def _wildcard_matches(entry: str, presented: str) -> bool:
    """`presented` equals `entry` with '*' replaced by exactly one DNS label."""
    prefix, _, suffix = entry.partition("*")
    if len(presented) <= len(prefix) + len(suffix):
        return False
    if not (presented.startswith(prefix) and presented.endswith(suffix)):
        return False
    label = presented[len(prefix) : len(presented) - len(suffix)]
    return _WILDCARD_LABEL_RE.fullmatch(label) is not None


def _loopback_matches(entry: str, presented: str) -> bool:
    """RFC 8252 §7.3: a native app's loopback IP entry matches the same URL on any port."""
    registered = _parse_presented_web(entry)
    if registered is None or not _is_loopback_ip(registered.host):
        return False
    candidate = _parse_presented_web(presented)
    return candidate is not None and (
        (candidate.scheme, candidate.host, candidate.path)
        == (registered.scheme, registered.host, registered.path)
    )


def _parse_presented_web(uri: str) -> _WebUri | None:
    try:
        scheme, rest = _split_scheme(uri)
        if scheme not in WEB_SCHEMES:
            return None
        return _parse_web_uri(scheme, rest)
    except _Refusal:
        return None


def _shown(uri: str) -> str:
    """The URL quoted for a message, shortened when very long."""
    if len(uri) > _SHOWN_MAX:
        return repr(uri[: _SHOWN_MAX - 3] + "...")
    return repr(uri)
