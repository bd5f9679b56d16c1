"""Plain data: apps, users, sessions, keys. No IO, no frameworks."""
