"""Ostiary: a self-hostable OpenID Connect identity provider with one shared login session."""

__version__ = "0.1.0"
