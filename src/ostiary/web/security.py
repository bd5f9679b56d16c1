"""The security headers of every response, and the pages' Content-Security-Policy (applied by
``ostiary.web.edge``)."""

from __future__ import annotations

__all__ = ["content_security_policy", "security_headers"]


def content_security_policy(form_action_schemes: tuple[str, ...] = ()) -> str:
    """The pages' CSP. Browsers apply ``form-action`` to the redirect that follows a form post
    too, so a page whose form ends at a native app's custom scheme (``com.example.app:``) must
    name that scheme, or the browser blocks the way back to the app."""
    extra = "".join(f" {scheme}:" for scheme in form_action_schemes)
    return (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        f"form-action 'self' http: https:{extra}; object-src 'none'"
    )


HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", content_security_policy().encode()),
]


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response carries (a response that sets one of them keeps its own)."""
    return [*HEADERS, (b"strict-transport-security", b"max-age=31536000")] if hsts else HEADERS
