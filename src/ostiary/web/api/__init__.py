"""The management REST API (``/api/v1``) with its OpenAPI 3.1 document."""

from ostiary.web.api.app import ManagementApi, build_api, mount

__all__ = ["ManagementApi", "build_api", "mount"]
