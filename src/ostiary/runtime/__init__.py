"""How a server process runs, beside the use cases: the child processes that sign JWTs, the
background worker's loop and the wake-ups that requests send it. Nothing here knows what a
session, an app or a token is; ``bootstrap`` hands the worker its jobs."""
