"""The demo's API: bearer access tokens from the SPA and the desktop app."""
