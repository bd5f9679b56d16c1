"""Hosted pages: login, sign-up, consent, errors."""
