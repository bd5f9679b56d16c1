"""The demo's server-rendered web app (``ostiary_client.starlette.OstiaryAuth``)."""
