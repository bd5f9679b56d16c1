"""Security headers on every response (pure ASGI middleware: no per-request task overhead)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware", "content_security_policy"]


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


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = list(HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                present = {name for name, _ in message["headers"]}
                message["headers"] = list(message["headers"]) + [
                    header for header in self.headers if header[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
