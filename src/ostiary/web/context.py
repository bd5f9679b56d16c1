"""Access to the wired services from a request."""

from __future__ import annotations

from starlette.requests import Request

from ostiary.services.container import Services

__all__ = ["services_of"]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
