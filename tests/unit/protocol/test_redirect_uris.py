"""Tests for the registration and matching rules of redirect and related URLs."""

from __future__ import annotations

import pytest

from ostiary.protocol.redirect_uris import (
    MAX_URI_LENGTH,
    RedirectUriError,
    UriKind,
    match_redirect_uri,
    validate_registered_uri,
)

REDIRECT = UriKind.REDIRECT
POST_LOGOUT = UriKind.POST_LOGOUT
INITIATE = UriKind.INITIATE_LOGIN
BACKCHANNEL = UriKind.BACKCHANNEL_LOGOUT
DEV = False
PROD = True
APP_TYPES = ("web", "spa", "native")


def _refuse(
    uri: str, *, kind: UriKind = REDIRECT, app_type: str = "web", production: bool = DEV
) -> RedirectUriError:
    with pytest.raises(RedirectUriError) as info:
        validate_registered_uri(uri, kind=kind, app_type=app_type, production=production)
    return info.value


def _uri_of_length(length: int, prefix: str = "https://app.example.com/") -> str:
    return prefix + "a" * (length - len(prefix))


# --------------------------------------------------------------------------- accepted rows

ACCEPTED = [
    # https, both environments, every app type
    *[
        pytest.param(
            "https://app.example.com/callback", REDIRECT, app, env, id=f"https-{app}-{name}"
        )
        for app in APP_TYPES
        for env, name in ((DEV, "dev"), (PROD, "prod"))
    ],
    pytest.param("https://app.example.com", REDIRECT, "web", PROD, id="https-no-path"),
    pytest.param("https://app.example.com/", REDIRECT, "web", PROD, id="https-root-path"),
    pytest.param("https://app.example.com:8443/cb", REDIRECT, "web", PROD, id="https-port"),
    pytest.param("https://app.example.com:1/cb", REDIRECT, "web", PROD, id="port-1"),
    pytest.param("https://app.example.com:65535/cb", REDIRECT, "web", PROD, id="port-65535"),
    pytest.param("https://xn--bcher-kva.de/cb", REDIRECT, "web", PROD, id="punycode-host"),
    pytest.param("https://app.example.com/caf%C3%A9", REDIRECT, "web", PROD, id="pct-path"),
    pytest.param("https://93.184.216.34/cb", REDIRECT, "web", PROD, id="public-ipv4"),
    pytest.param("https://app.example.com/a/b;c=d", POST_LOGOUT, "spa", PROD, id="post-logout"),
    # http, development only
    *[
        pytest.param("http://app.example.com/cb", REDIRECT, app, DEV, id=f"http-{app}-dev")
        for app in APP_TYPES
    ],
    # localhost / loopback in development, every app type
    *[
        pytest.param(uri, REDIRECT, app, DEV, id=f"{name}-{app}-dev")
        for app in APP_TYPES
        for uri, name in (
            ("http://localhost:3000/cb", "localhost"),
            ("http://127.0.0.1:3000/cb", "ipv4-loopback"),
            ("http://[::1]:3000/cb", "ipv6-loopback"),
            ("https://localhost/cb", "https-localhost"),
        )
    ],
    # loopback IP literals for native apps in production (RFC 8252 §7.3)
    pytest.param("http://127.0.0.1/cb", REDIRECT, "native", PROD, id="native-127-prod"),
    pytest.param("http://127.0.0.1:8080/cb", REDIRECT, "native", PROD, id="native-127-port-prod"),
    pytest.param("http://[::1]/cb", REDIRECT, "native", PROD, id="native-ipv6-prod"),
    pytest.param("http://[::1]:8080/cb", REDIRECT, "native", PROD, id="native-ipv6-port-prod"),
    # custom schemes for native apps, both environments
    *[
        pytest.param(uri, kind, "native", env, id=f"{name}-{kind}-{env_name}")
        for uri, name in (("com.example.app:/cb", "reverse-dns"), ("myapp://callback", "plain"))
        for kind in (REDIRECT, POST_LOGOUT, INITIATE)
        for env, env_name in ((DEV, "dev"), (PROD, "prod"))
    ],
    pytest.param("com.example.app:/oauth2/cb", REDIRECT, "native", PROD, id="custom-long-path"),
    pytest.param("my-app+x:/cb", REDIRECT, "native", PROD, id="custom-scheme-plus-hyphen"),
    # wildcards, development, redirect and post-logout kinds
    pytest.param("https://*.acme.com/cb", REDIRECT, "web", DEV, id="wildcard-web"),
    pytest.param("https://*.acme.com", REDIRECT, "web", DEV, id="wildcard-no-path"),
    pytest.param("http://*.acme.com:8080/cb", REDIRECT, "spa", DEV, id="wildcard-port"),
    pytest.param("https://*.acme.co.uk/cb", REDIRECT, "web", DEV, id="wildcard-under-co-uk"),
    pytest.param("https://*.foo.github.io/cb", REDIRECT, "spa", DEV, id="wildcard-private-psl"),
    pytest.param("https://*.acme.com/bye", POST_LOGOUT, "spa", DEV, id="wildcard-post-logout"),
    pytest.param("https://*.acme.com/cb", REDIRECT, "native", DEV, id="wildcard-native"),
    # initiate-login
    pytest.param("https://app.example.com/login", INITIATE, "web", PROD, id="initiate-https"),
    pytest.param("http://localhost:3000/login", INITIATE, "spa", DEV, id="initiate-localhost"),
    pytest.param("http://127.0.0.1/login", INITIATE, "native", PROD, id="initiate-native-loop"),
    # back-channel logout: web apps, http(s)
    pytest.param("https://app.example.com/bcl", BACKCHANNEL, "web", PROD, id="backchannel-https"),
    pytest.param("http://app.example.com/bcl", BACKCHANNEL, "web", DEV, id="backchannel-http-dev"),
    pytest.param("http://localhost:8000/bcl", BACKCHANNEL, "web", DEV, id="backchannel-localhost"),
    # back-channel logout may carry a query (Back-Channel Logout 1.0 §2.2; mod_auth_openidc)
    *[
        pytest.param(uri, BACKCHANNEL, "web", env, id=f"backchannel-query-{case}-{name}")
        for uri, case in (
            ("https://app.example.com/redirect_uri?logout=backchannel", "mod-auth-openidc"),
            ("https://app.example.com/bcl?a=1&b=x%20y", "several-escaped"),
            ("https://app.example.com/?logout=backchannel", "root-path"),
            ("https://app.example.com/bcl?next=/a/b?c", "slash-and-question-mark"),
        )
        for env, name in ((DEV, "dev"), (PROD, "prod"))
    ],
    pytest.param(
        "http://127.0.0.1:8080/protected/redirect_uri?logout=backchannel",
        BACKCHANNEL,
        "web",
        DEV,
        id="backchannel-query-loopback-dev",
    ),
]


@pytest.mark.parametrize(("uri", "kind", "app_type", "production"), ACCEPTED)
def test_accepted_uri_is_returned_unchanged(
    uri: str, kind: UriKind, app_type: str, production: bool
) -> None:
    """An allowed URL passes registration and comes back exactly as given."""
    assert validate_registered_uri(uri, kind=kind, app_type=app_type, production=production) == uri


def test_exactly_max_length_is_accepted_in_both_environments() -> None:
    """A URL of exactly 256 characters is accepted in development and production."""
    uri = _uri_of_length(MAX_URI_LENGTH)
    assert len(uri) == 256
    for production in (DEV, PROD):
        assert (
            validate_registered_uri(uri, kind=REDIRECT, app_type="web", production=production)
            == uri
        )


# --------------------------------------------------------------------------- refused rows

REFUSED = [
    # text
    *[
        pytest.param("", REDIRECT, "web", env, "empty", "https://", id=f"empty-{name}")
        for env, name in ((DEV, "dev"), (PROD, "prod"))
    ],
    *[
        pytest.param(
            "https://a.com/a b", REDIRECT, "web", env, "whitespace", "position 15", id=f"space-{n}"
        )
        for env, n in ((DEV, "dev"), (PROD, "prod"))
    ],
    pytest.param("https://a.com/cb\t", REDIRECT, "web", DEV, "whitespace", "\\t", id="tab"),
    pytest.param(" https://a.com/cb", REDIRECT, "web", DEV, "whitespace", "position 0", id="lead"),
    pytest.param("https://a.com/cb\n", REDIRECT, "web", PROD, "whitespace", "\\n", id="newline"),
    pytest.param(
        "https://a.com/\x00", REDIRECT, "web", DEV, "control_character", "U+0000", id="nul"
    ),
    pytest.param(
        "https://a.com/\u200b", REDIRECT, "web", PROD, "control_character", "U+200B", id="zwsp"
    ),
    pytest.param(
        "https://a.com/\u202ecb", REDIRECT, "web", DEV, "control_character", "U+202E", id="bidi"
    ),
    # query and fragment, both environments
    *[
        pytest.param(uri, kind, app, env, rule, part, id=f"{case}-{app}-{kind}-{name}")
        for uri, rule, part, case in (
            ("https://a.com/cb#frag", "fragment", "#frag", "fragment"),
            ("https://a.com/cb?", "query", "'?'", "empty-query"),
            ("https://a.com/cb#", "fragment", "'#'", "empty-fragment"),
        )
        for kind, app in ((REDIRECT, "web"), (POST_LOGOUT, "spa"), (BACKCHANNEL, "web"))
        for env, name in ((DEV, "dev"), (PROD, "prod"))
    ],
    # a query only on back-channel logout URIs: never where a browser is sent
    *[
        pytest.param("https://a.com/cb?x=1", kind, app, env, "query", "?x=1", id=f"query-{k}-{e}")
        for kind, app, k in (
            (REDIRECT, "web", "redirect"),
            (POST_LOGOUT, "spa", "post-logout"),
            (INITIATE, "web", "initiate"),
        )
        for env, e in ((DEV, "dev"), (PROD, "prod"))
    ],
    *[
        pytest.param(uri, BACKCHANNEL, "web", PROD, rule, part, id=f"backchannel-query-{case}")
        for uri, rule, part, case in (
            ("https://a.com/bcl?logout=backchannel#x", "fragment", "'#x'", "then-fragment"),
            ("https://a.com/bcl?a=<b>", "invalid_query", "'<'", "angle-bracket"),
            ("https://a.com/bcl?a=b c", "whitespace", "position 21", "space"),
            ("https://a.com/bcl?a=%zz", "invalid_query", "'%zz'", "bad-escape"),
            ("https://a.com/bcl?a=\u00e9", "non_ascii", "'%C3%A9'", "non-ascii"),
            ('https://a.com/bcl?a="', "invalid_query", "'%22'", "quote"),
            ("https://a.com/bcl?a=*", "wildcard_not_allowed_for_kind", "concrete", "star"),
            ("https://a.com/bcl?", "query", "'?logout=backchannel'", "empty-names-example"),
            ("http://a.com/bcl?x=1", "http_in_production", "https://a.com/bcl", "http-prod"),
            ("http://localhost/bcl?x=1", "localhost_in_production", "localhost", "localhost"),
            ("https://a.com:0/bcl?x=1", "invalid_port", "'0'", "port"),
            ("https://u@a.com/bcl?x=1", "userinfo", "'u@'", "userinfo"),
            ("myapp:/bcl?x=1", "backchannel_custom_scheme", "myapp:", "custom-scheme"),
        )
    ],
    pytest.param("myapp:/cb?x=1", REDIRECT, "native", PROD, "query", "?x=1", id="query-custom"),
    pytest.param(
        "myapp:/cb#frag", REDIRECT, "native", DEV, "fragment", "#frag", id="fragment-custom"
    ),
    # schemes
    pytest.param(
        "app.example.com/cb", REDIRECT, "web", DEV, "invalid_scheme", "https://", id="no-scheme"
    ),
    pytest.param("//app.example.com/cb", REDIRECT, "web", DEV, "invalid_scheme", "", id="rel"),
    pytest.param("1app:/cb", REDIRECT, "native", DEV, "invalid_scheme", "scheme", id="digit"),
    pytest.param("my_app:/cb", REDIRECT, "native", DEV, "invalid_scheme", "", id="underscore"),
    pytest.param(
        "com..app:/cb", REDIRECT, "native", DEV, "invalid_scheme", "com..app", id="empty-part"
    ),
    pytest.param(
        "com.app.:/cb", REDIRECT, "native", DEV, "invalid_scheme", "com.app.", id="trailing-dot"
    ),
    pytest.param(
        "HTTPS://a.com/cb", REDIRECT, "web", DEV, "uppercase_scheme", "'https'", id="upper"
    ),
    pytest.param(
        "Com.Example.App:/cb",
        REDIRECT,
        "native",
        PROD,
        "uppercase_scheme",
        "com.example.app",
        id="upper-custom",
    ),
    # custom schemes are for native apps only
    *[
        pytest.param(
            uri, kind, app, env, "custom_scheme_not_native", "native", id=f"{name}-{app}-{n}"
        )
        for uri, name in (("com.example.app:/cb", "reverse-dns"), ("myapp://callback", "plain"))
        for app in ("web", "spa")
        for kind in (REDIRECT,)
        for env, n in ((DEV, "dev"), (PROD, "prod"))
    ],
    pytest.param(
        "myapp:/login",
        INITIATE,
        "spa",
        PROD,
        "custom_scheme_not_native",
        "https",
        id="initiate-custom-spa",
    ),
    pytest.param(
        "myapp:callback",
        REDIRECT,
        "native",
        DEV,
        "custom_scheme_path",
        "myapp:/callback",
        id="custom-no-slash",
    ),
    pytest.param("myapp:", REDIRECT, "native", DEV, "custom_scheme_path", "'/'", id="custom-empty"),
    pytest.param(
        "urn:ietf:wg:oauth:2.0:oob",
        REDIRECT,
        "native",
        DEV,
        "custom_scheme_path",
        "urn:",
        id="oob",
    ),
    pytest.param(
        "myapp://user@callback", REDIRECT, "native", DEV, "userinfo", "user@", id="custom-userinfo"
    ),
    pytest.param(
        "myapp:/caf\u00e9", REDIRECT, "native", DEV, "non_ascii", "%C3%A9", id="custom-non-ascii"
    ),
    pytest.param("myapp:/a<b", REDIRECT, "native", DEV, "invalid_path", "'<'", id="custom-bad"),
    # http(s) structure
    pytest.param("https:/cb", REDIRECT, "web", DEV, "missing_host", "https://host", id="one-slash"),
    pytest.param("https:cb", REDIRECT, "web", DEV, "missing_host", "https://host", id="no-slash"),
    pytest.param("https:///cb", REDIRECT, "web", DEV, "missing_host", "host", id="empty-host"),
    pytest.param("http://:8080/cb", REDIRECT, "web", DEV, "missing_host", "host", id="port-only"),
    *[
        pytest.param(uri, REDIRECT, "web", env, "userinfo", part, id=f"userinfo-{part}-{n}")
        for uri, part in (
            ("https://user@a.com/cb", "user@"),
            ("https://user:pw@a.com/cb", "user:pw@"),
            ("https://a.com@evil.com/cb", "a.com@"),
        )
        for env, n in ((DEV, "dev"), (PROD, "prod"))
    ],
    pytest.param(
        "https://b\u00fccher.de/cb",
        REDIRECT,
        "web",
        PROD,
        "non_ascii_host",
        "xn--bcher-kva.de",
        id="idn-host",
    ),
    pytest.param(
        "https://a.com/caf\u00e9", REDIRECT, "web", DEV, "non_ascii", "%C3%A9", id="non-ascii-path"
    ),
    pytest.param(
        "https://App.Example.com/cb",
        REDIRECT,
        "web",
        DEV,
        "uppercase_host",
        "'app.example.com'",
        id="upper-host",
    ),
    pytest.param("https://a.com:0/cb", REDIRECT, "web", DEV, "invalid_port", "'0'", id="port-0"),
    pytest.param(
        "https://a.com:65536/cb", REDIRECT, "web", PROD, "invalid_port", "65536", id="big"
    ),
    pytest.param("https://a.com:abc/cb", REDIRECT, "web", DEV, "invalid_port", "abc", id="alpha"),
    pytest.param("https://a.com:/cb", REDIRECT, "web", DEV, "invalid_port", "''", id="port-empty"),
    pytest.param("https://a.com:0443/cb", REDIRECT, "web", DEV, "invalid_port", "0443", id="lead0"),
    pytest.param("https://a.com:-1/cb", REDIRECT, "web", DEV, "invalid_port", "-1", id="negative"),
    pytest.param("https://a..com/cb", REDIRECT, "web", DEV, "invalid_host", "a..com", id="dots"),
    pytest.param("https://a.com./cb", REDIRECT, "web", DEV, "invalid_host", "a.com.", id="fqdn"),
    pytest.param("https://-a.com/cb", REDIRECT, "web", DEV, "invalid_host", "-a", id="hyphen"),
    pytest.param("https://a_b.com/cb", REDIRECT, "web", DEV, "invalid_host", "a_b", id="under"),
    pytest.param(
        "https://a.com\\@evil.com/cb", REDIRECT, "web", DEV, "userinfo", "@", id="backslash-at"
    ),
    pytest.param(
        "https://a.com\\.evil.com/cb", REDIRECT, "web", DEV, "invalid_host", "\\\\", id="bslash"
    ),
    pytest.param("https://[::1/cb", REDIRECT, "web", DEV, "invalid_host", "']'", id="unclosed"),
    pytest.param("https://[zz]/cb", REDIRECT, "web", DEV, "invalid_host", "[zz]", id="bad-ipv6"),
    pytest.param("https://[::1]x/cb", REDIRECT, "web", DEV, "invalid_host", "'x'", id="after-v6"),
    pytest.param("http://::1/cb", REDIRECT, "web", DEV, "invalid_host", "brackets", id="bare-v6"),
    pytest.param(
        "https://1.2.3.999/cb", REDIRECT, "web", DEV, "invalid_host", "1.2.3.999", id="bad-ipv4"
    ),
    pytest.param("https://a.com/%zz", REDIRECT, "web", DEV, "invalid_path", "%zz", id="bad-pct"),
    pytest.param("https://a.com/%4", REDIRECT, "web", DEV, "invalid_path", "%4", id="short-pct"),
    pytest.param("https://a.com/a<b", REDIRECT, "web", DEV, "invalid_path", "%3C", id="angle"),
    pytest.param("https://a.com/a\\b", REDIRECT, "web", DEV, "invalid_path", "%5C", id="bs-path"),
    # production: https only
    *[
        pytest.param(
            "http://app.example.com/cb",
            kind,
            app,
            PROD,
            "http_in_production",
            "https://app.example.com/cb",
            id=f"http-{app}-{kind}-prod",
        )
        for app, kind in (
            ("web", REDIRECT),
            ("spa", REDIRECT),
            ("native", REDIRECT),
            ("spa", POST_LOGOUT),
            ("web", INITIATE),
            ("web", BACKCHANNEL),
        )
    ],
    pytest.param(
        "http://app.example.com:8080/cb",
        REDIRECT,
        "web",
        PROD,
        "http_in_production",
        "https://app.example.com:8080/cb",
        id="http-port-prod",
    ),
    # production: no localhost name, loopback IPs only for native apps
    *[
        pytest.param(
            uri, REDIRECT, app, PROD, "localhost_in_production", hint, id=f"{name}-{app}-prod"
        )
        for app, hint in (("web", "public https"), ("spa", "public https"), ("native", "127.0.0.1"))
        for uri, name in (
            ("http://localhost:3000/cb", "localhost"),
            ("https://localhost/cb", "https-localhost"),
            ("http://app.localhost/cb", "sub-localhost"),
        )
    ],
    pytest.param(
        "http://localhost/cb",
        REDIRECT,
        "native",
        PROD,
        "localhost_in_production",
        "8252",
        id="localhost-cites-rfc",
    ),
    *[
        pytest.param(
            uri, kind, app, PROD, "loopback_in_production", host, id=f"{host}-{app}-{kind}"
        )
        for uri, host in (("http://127.0.0.1:3000/cb", "127.0.0.1"), ("http://[::1]/cb", "[::1]"))
        for app, kind in (("web", REDIRECT), ("spa", REDIRECT), ("web", BACKCHANNEL))
    ],
    pytest.param(
        "http://localhost:8000/bcl",
        BACKCHANNEL,
        "web",
        PROD,
        "localhost_in_production",
        "localhost",
        id="backchannel-localhost-prod",
    ),
    # wildcards: shape (development)
    *[
        pytest.param(uri, REDIRECT, "web", DEV, rule, part, id=name)
        for uri, rule, part, name in (
            ("https://*.com/cb", "wildcard_public_suffix", "'com'", "star-dot-com"),
            ("https://*.co.uk/cb", "wildcard_public_suffix", "'co.uk'", "star-co-uk"),
            ("https://*.github.io/cb", "wildcard_public_suffix", "github.io", "star-github-io"),
            ("https://*.localhost/cb", "wildcard_public_suffix", "localhost", "star-localhost"),
            ("https://*/cb", "wildcard_public_suffix", "every host", "lone-star"),
            ("https://a.*.acme.com/cb", "wildcard_not_leftmost", "'*.acme.com'", "inner"),
            ("https://acme.*/cb", "wildcard_not_leftmost", "acme.*", "rightmost"),
            ("https://*.*.acme.com/cb", "wildcard_multiple", "2 wildcards", "two-stars"),
            ("https://**.acme.com/cb", "wildcard_multiple", "2 wildcards", "double-star"),
            ("https://foo*.acme.com/cb", "wildcard_partial_label", "'foo*'", "prefix-star"),
            ("https://*foo.acme.com/cb", "wildcard_partial_label", "'*foo'", "suffix-star"),
            ("https://f*o.acme.com/cb", "wildcard_partial_label", "'f*o'", "middle-star"),
            ("https://acme.com/*", "wildcard_not_in_host", "path", "in-path"),
            ("https://acme.com/cb/*/x", "wildcard_not_in_host", "path", "in-path-middle"),
            ("https://acme.com:*/cb", "wildcard_not_in_host", "port", "in-port"),
            ("*://acme.com/cb", "wildcard_not_in_host", "scheme", "whole-scheme"),
            ("http*://acme.com/cb", "wildcard_not_in_host", "'http*'", "in-scheme"),
            ("https://*.1.2.3.4/cb", "wildcard_ip_address", "1.2.3.4", "ipv4"),
            ("https://[*::1]/cb", "wildcard_ip_address", "[*::1]", "ipv6"),
            ("https://*.a..com/cb", "invalid_host", "a..com", "bad-base"),
        )
    ],
    pytest.param(
        "myapp://*/cb",
        REDIRECT,
        "native",
        DEV,
        "wildcard_not_in_host",
        "custom scheme",
        id="in-custom-scheme-uri",
    ),
    # wildcards: never in production, never for kinds Ostiary sends to
    *[
        pytest.param(uri, kind, app, PROD, "wildcard_in_production", "development", id=name)
        for uri, kind, app, name in (
            ("https://*.acme.com/cb", REDIRECT, "web", "prod-redirect-web"),
            ("https://*.acme.com/cb", REDIRECT, "spa", "prod-redirect-spa"),
            ("https://*.acme.com/bye", POST_LOGOUT, "web", "prod-post-logout"),
            ("https://acme.com/*", REDIRECT, "web", "prod-path-star"),
        )
    ],
    *[
        pytest.param(
            "https://*.acme.com/x",
            kind,
            "web",
            env,
            "wildcard_not_allowed_for_kind",
            "concrete",
            id=f"{kind}-{name}",
        )
        for kind in (INITIATE, BACKCHANNEL)
        for env, name in ((DEV, "dev"), (PROD, "prod"))
    ],
    # back-channel logout: web apps only, http(s) only
    *[
        pytest.param(
            "https://app.example.com/bcl",
            BACKCHANNEL,
            app,
            env,
            "backchannel_web_only",
            app_name,
            id=f"backchannel-{app}-{name}",
        )
        for app, app_name in (("spa", "single-page"), ("native", "native app"))
        for env, name in ((DEV, "dev"), (PROD, "prod"))
    ],
    *[
        pytest.param(
            uri,
            BACKCHANNEL,
            "web",
            env,
            "backchannel_custom_scheme",
            "POST",
            id=f"backchannel-custom-{name}",
        )
        for uri in ("myapp:/bcl",)
        for env, name in ((DEV, "dev"), (PROD, "prod"))
    ],
]


@pytest.mark.parametrize(("uri", "kind", "app_type", "production", "rule", "mentions"), REFUSED)
def test_refused_uri_names_rule_and_offending_part(
    uri: str, kind: UriKind, app_type: str, production: bool, rule: str, mentions: str
) -> None:
    """A forbidden URL raises RedirectUriError with the right rule and a helpful message."""
    err = _refuse(uri, kind=kind, app_type=app_type, production=production)
    assert err.rule == rule
    message = str(err)
    assert f"({rule})" in message
    assert mentions in message
    assert message.endswith(".")


def test_too_long_is_refused_at_257_characters_in_both_environments() -> None:
    """A URL of 257 characters is refused as too_long, and the message gives length and limit."""
    uri = _uri_of_length(MAX_URI_LENGTH + 1)
    for production in (DEV, PROD):
        err = _refuse(uri, production=production)
        assert err.rule == "too_long"
        assert "257" in str(err)
        assert "256" in str(err)


def test_long_uri_is_shortened_in_message() -> None:
    """The message quotes a very long URL shortened, so it stays readable."""
    err = _refuse(_uri_of_length(400))
    assert len(str(err)) < 300
    assert "..." in str(err)


@pytest.mark.parametrize(
    "scheme",
    ["javascript", "data", "vbscript", "file", "about", "blob", "filesystem", "ftp", "ws", "wss"],
)
@pytest.mark.parametrize("app_type", APP_TYPES)
def test_dangerous_scheme_is_refused_for_every_app_type(scheme: str, app_type: str) -> None:
    """Dangerous schemes are refused whatever the app type or environment."""
    for uri in (f"{scheme}:/x", f"{scheme}://host/x", f"{scheme.upper()}:/x"):
        for production in (DEV, PROD):
            err = _refuse(uri, app_type=app_type, production=production)
            assert err.rule == "dangerous_scheme"
            assert f"'{scheme}:'" in str(err)


def test_javascript_payload_is_refused_as_dangerous_scheme() -> None:
    """A classic javascript: payload is reported as a dangerous scheme, not a syntax error."""
    assert _refuse("javascript:alert(1)", app_type="native").rule == "dangerous_scheme"


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        (REDIRECT, "Redirect URI"),
        (POST_LOGOUT, "Post-logout redirect URI"),
        (INITIATE, "Initiate-login URI"),
        (BACKCHANNEL, "Back-channel logout URI"),
    ],
)
def test_message_names_the_kind_of_url(kind: UriKind, label: str) -> None:
    """The message starts with what kind of URL was refused and quotes it."""
    err = _refuse("https://a.com/cb#x", kind=kind)
    assert str(err).startswith(f"{label} 'https://a.com/cb#x' is not allowed (fragment): ")


def test_error_is_a_value_error_with_rule_attribute() -> None:
    """RedirectUriError is a ValueError whose str() is the message it was built with."""
    err = RedirectUriError("some_rule", "Some sentence.")
    assert isinstance(err, ValueError)
    assert err.rule == "some_rule"
    assert str(err) == "Some sentence."


@pytest.mark.parametrize("app_type", ["", "mobile", "WEB"], ids=["empty", "mobile", "upper"])
def test_unknown_app_type_is_refused(app_type: str) -> None:
    """An app type other than web, spa or native is refused, by validation and matching."""
    err = _refuse("https://a.com/cb", app_type=app_type)
    assert err.rule == "unknown_app_type"
    assert "'native'" in str(err)
    with pytest.raises(RedirectUriError):
        match_redirect_uri(
            ["https://a.com/cb"], "https://a.com/cb", app_type=app_type, production=DEV
        )


def test_uri_kind_values_are_stable_strings() -> None:
    """UriKind members are str values used in storage and APIs."""
    assert [str(kind) for kind in UriKind] == [
        "redirect",
        "post_logout",
        "initiate_login",
        "backchannel_logout",
    ]


# --------------------------------------------------------------------------- matching


def _matches(
    registered: list[str], presented: str, *, app_type: str = "web", production: bool = DEV
) -> bool:
    return match_redirect_uri(registered, presented, app_type=app_type, production=production)


@pytest.mark.parametrize("production", [DEV, PROD], ids=["dev", "prod"])
@pytest.mark.parametrize(
    ("app_type", "uri"),
    [
        ("web", "https://app.example.com/cb"),
        ("spa", "https://app.example.com/"),
        ("native", "com.example.app:/cb"),
        ("native", "myapp://callback"),
    ],
)
def test_exact_registered_uri_matches(app_type: str, uri: str, production: bool) -> None:
    """A presented URL identical to a registered one matches."""
    assert _matches(
        ["https://other.example.com/cb", uri], uri, app_type=app_type, production=production
    )


def test_empty_registered_list_matches_nothing() -> None:
    """With no registered entries nothing matches."""
    assert not _matches([], "https://app.example.com/cb")


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("https://a.com/cb/", id="trailing-slash"),
        pytest.param("https://a.com", id="no-path"),
        pytest.param("https://a.com:443/cb", id="default-port"),
        pytest.param("HTTPS://a.com/cb", id="scheme-case"),
        pytest.param("https://A.com/cb", id="host-case"),
        pytest.param("https://a.com/CB", id="path-case"),
        pytest.param("http://a.com/cb", id="other-scheme"),
        pytest.param("https://www.a.com/cb", id="subdomain"),
        pytest.param("https://a.com/cb/x", id="longer-path"),
        pytest.param("https://a.com/c", id="shorter-path"),
        pytest.param("https://a.com/%63b", id="pct-encoded"),
    ],
)
def test_match_is_exact_string_equality(presented: str) -> None:
    """Scheme, host, port, path, case and trailing slash all count when matching."""
    assert not _matches(["https://a.com/cb"], presented)


def test_registered_trailing_slash_does_not_match_without_it() -> None:
    """A registered URL with a trailing slash does not match the same URL without it."""
    assert not _matches(["https://a.com/cb/"], "https://a.com/cb")


def test_registered_port_does_not_match_default_port() -> None:
    """A registered explicit default port does not match the URL without a port."""
    assert not _matches(["https://a.com:443/cb"], "https://a.com/cb")


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("https://app.example.com/cb#frag", id="fragment"),
        pytest.param("https://app.example.com/cb#", id="empty-fragment"),
        pytest.param("https://app.example.com/cb?x=1", id="query"),
        pytest.param("https://app.example.com/cb?", id="empty-query"),
        pytest.param("https://app.example.com/cb ", id="trailing-space"),
        pytest.param(" https://app.example.com/cb", id="leading-space"),
        pytest.param("https://app.example.com/cb\n", id="newline"),
        pytest.param("https://user@app.example.com/cb", id="userinfo"),
        pytest.param("", id="empty"),
    ],
)
def test_malformed_presented_uri_never_matches(presented: str) -> None:
    """A presented URL with a fragment, query, whitespace or userinfo matches nothing."""
    assert not _matches(["https://app.example.com/cb", "https://*.example.com/cb"], presented)


def test_presented_longer_than_limit_never_matches_a_wildcard() -> None:
    """A 257-character presented URL is refused even when a wildcard entry would fit it."""
    registered = _uri_of_length(MAX_URI_LENGTH, prefix="https://*.acme.com/")
    assert len(registered) == 256
    fits = registered.replace("*", "a")
    too_long = registered.replace("*", "ab")
    assert _matches([registered], fits)
    assert len(too_long) == 257
    assert not _matches([registered], too_long)


# --------------------------------------------------------------------------- wildcard matching


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("https://tenant.acme.com/cb", id="word"),
        pytest.param("https://tenant-42.acme.com/cb", id="hyphen-digits"),
        pytest.param("https://a.acme.com/cb", id="one-char"),
        pytest.param("https://pr-1234-preview.acme.com/cb", id="preview"),
        pytest.param("https://xn--bcher-kva.acme.com/cb", id="punycode"),
        pytest.param("https://" + "a" * 63 + ".acme.com/cb", id="label-63"),
    ],
)
@pytest.mark.parametrize("app_type", APP_TYPES)
def test_wildcard_matches_one_label_in_development(presented: str, app_type: str) -> None:
    """In development '*' in the host matches exactly one DNS label."""
    assert _matches(["https://*.acme.com/cb"], presented, app_type=app_type)


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("https://a.b.acme.com/cb", id="two-labels"),
        pytest.param("https://acme.com/cb", id="bare-domain"),
        pytest.param("https://.acme.com/cb", id="empty-label"),
        pytest.param("https://*.acme.com/cb/x", id="longer-path"),
        pytest.param("https://x.acme.com/cb/", id="trailing-slash"),
        pytest.param("https://x.acme.com:8443/cb", id="port"),
        pytest.param("http://x.acme.com/cb", id="scheme"),
        pytest.param("https://x.acme.com.evil.com/cb", id="suffix-attack"),
        pytest.param("https://evil.com/x.acme.com/cb", id="path-attack"),
        pytest.param("https://evil.com:1/x.acme.com/cb", id="port-path-attack"),
        pytest.param("https://user@x.acme.com/cb", id="userinfo"),
        pytest.param("https://x_y.acme.com/cb", id="underscore"),
        pytest.param("https://" + "a" * 64 + ".acme.com/cb", id="label-too-long"),
        pytest.param("https://-.acme.com/cb", id="hyphen-only"),
        pytest.param("https://-x.acme.com/cb", id="leading-hyphen"),
        pytest.param("https://x-.acme.com/cb", id="trailing-hyphen"),
        pytest.param("https://--.acme.com/cb", id="two-hyphens"),
        pytest.param("https://x.acme.com/cb#x", id="fragment"),
        pytest.param("https://x.acme.com/cb?x", id="query"),
    ],
)
def test_wildcard_does_not_match_other_shapes(presented: str) -> None:
    """A wildcard never matches zero or several labels, nor other scheme, port or path."""
    assert not _matches(["https://*.acme.com/cb"], presented)


def test_wildcard_with_port_matches_only_that_port() -> None:
    """A wildcard entry's port must match exactly."""
    registered = ["http://*.acme.com:8080/cb"]
    assert _matches(registered, "http://x.acme.com:8080/cb")
    assert not _matches(registered, "http://x.acme.com:8081/cb")
    assert not _matches(registered, "http://x.acme.com/cb")


def test_wildcard_entry_is_ignored_in_production() -> None:
    """In production a wildcard entry matches nothing, not even its literal text."""
    registered = ["https://*.acme.com/cb"]
    assert not _matches(registered, "https://tenant.acme.com/cb", production=PROD)
    assert not _matches(registered, "https://*.acme.com/cb", production=PROD)


def test_literal_star_does_not_match_wildcard_entry() -> None:
    """A presented URL containing a literal '*' host label is not a match for a wildcard."""
    assert not _matches(["https://*.acme.com/cb"], "https://*.acme.com/cb")


def test_invalid_wildcard_entry_matches_nothing() -> None:
    """A wildcard entry that breaks the rules (e.g. '*.com') never matches."""
    assert not _matches(["https://*.com/cb"], "https://evil.com/cb")


# --------------------------------------------------------------------------- native loopback


@pytest.mark.parametrize("production", [DEV, PROD], ids=["dev", "prod"])
@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("registered_port", ["", ":8080"], ids=["no-port", "with-port"])
@pytest.mark.parametrize("presented_port", ["", ":8080", ":51234", ":1", ":65535"])
def test_native_loopback_matches_any_port(
    production: bool, host: str, registered_port: str, presented_port: str
) -> None:
    """A native app's loopback IP entry matches the same URL on any port (RFC 8252 §7.3)."""
    registered = [f"http://{host}{registered_port}/cb"]
    presented = f"http://{host}{presented_port}/cb"
    assert _matches(registered, presented, app_type="native", production=production)


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("http://127.0.0.1:5000/other", id="other-path"),
        pytest.param("http://127.0.0.1:5000/cb/", id="trailing-slash"),
        pytest.param("https://127.0.0.1:5000/cb", id="other-scheme"),
        pytest.param("http://[::1]:5000/cb", id="other-ip"),
        pytest.param("http://127.0.0.2:5000/cb", id="other-ipv4"),
        pytest.param("http://localhost:5000/cb", id="localhost-name"),
        pytest.param("http://127.0.0.1:0/cb", id="port-0"),
        pytest.param("http://127.0.0.1:65536/cb", id="port-too-big"),
        pytest.param("http://127.0.0.1:abc/cb", id="port-alpha"),
        pytest.param("http://127.0.0.1:/cb", id="port-empty"),
        pytest.param("http://user@127.0.0.1:5000/cb", id="userinfo"),
        pytest.param("http://127.0.0.1:5000/cb?x=1", id="query"),
        pytest.param("http://127.0.0.1:5000/cb#x", id="fragment"),
    ],
)
def test_native_loopback_requires_same_scheme_ip_and_path(presented: str) -> None:
    """The any-port rule still needs the same scheme, loopback IP and path."""
    assert not _matches(["http://127.0.0.1/cb"], presented, app_type="native")


@pytest.mark.parametrize("app_type", ["web", "spa"])
def test_loopback_any_port_is_only_for_native_apps(app_type: str) -> None:
    """For web and SPA apps a loopback entry matches only exactly, in development."""
    registered = ["http://127.0.0.1:3000/cb"]
    assert _matches(registered, "http://127.0.0.1:3000/cb", app_type=app_type)
    assert not _matches(registered, "http://127.0.0.1:4000/cb", app_type=app_type)
    assert not _matches(registered, "http://127.0.0.1:3000/cb", app_type=app_type, production=PROD)


def test_native_localhost_has_no_any_port_rule() -> None:
    """A native app's localhost entry matches only exactly, and only in development."""
    registered = ["http://localhost/cb"]
    assert _matches(registered, "http://localhost/cb", app_type="native")
    assert not _matches(registered, "http://localhost:5000/cb", app_type="native")
    assert not _matches(registered, "http://localhost/cb", app_type="native", production=PROD)


# --------------------------------------------------------------------------- environments


@pytest.mark.parametrize(
    ("app_type", "dev_only", "presented"),
    [
        pytest.param("web", "http://localhost:3000/cb", "http://localhost:3000/cb", id="localhost"),
        pytest.param("spa", "http://127.0.0.1:3000/cb", "http://127.0.0.1:3000/cb", id="loopback"),
        pytest.param("native", "http://localhost/cb", "http://localhost/cb", id="native-localhost"),
        pytest.param("web", "http://app.example.com/cb", "http://app.example.com/cb", id="http"),
        pytest.param("spa", "https://*.example.com/cb", "https://x.example.com/cb", id="wildcard"),
    ],
)
def test_production_ignores_dev_only_registered_entry(
    app_type: str, dev_only: str, presented: str
) -> None:
    """An entry registered in development that production refuses never matches in production."""
    validate_registered_uri(dev_only, kind=REDIRECT, app_type=app_type, production=DEV)
    registered = [dev_only, "https://app.example.com/cb"]
    assert _matches(registered, presented, app_type=app_type)
    assert not _matches(registered, presented, app_type=app_type, production=PROD)
    assert _matches(registered, "https://app.example.com/cb", app_type=app_type, production=PROD)


def test_custom_scheme_entry_matches_only_for_native_apps() -> None:
    """A custom-scheme entry stored for a non-native app never matches."""
    registered = ["com.example.app:/cb"]
    assert _matches(registered, "com.example.app:/cb", app_type="native", production=PROD)
    assert not _matches(registered, "com.example.app:/cb", app_type="web")
    assert not _matches(registered, "com.example.app:/cb", app_type="spa")


def test_malformed_registered_entry_is_skipped() -> None:
    """An invalid stored entry is skipped, while valid entries in the same list still match."""
    registered = ["https://a.com/cb?x=1", "javascript:alert(1)", "https://a.com/ok"]
    assert not _matches(registered, "https://a.com/cb?x=1")
    assert not _matches(registered, "javascript:alert(1)")
    assert _matches(registered, "https://a.com/ok")
