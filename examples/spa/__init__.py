"""The demo's single-page app: static files using oidc-client-ts, and a tiny server for them."""
