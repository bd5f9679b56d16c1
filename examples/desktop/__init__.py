"""The demo's desktop app: a command that signs in through the system browser."""
