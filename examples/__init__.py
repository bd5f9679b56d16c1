"""Ostiary's example apps: a web app, a single-page app, a desktop command and an API that share
one sign-in. ``ostiary demo`` registers and runs them all (see ``examples/README.md``)."""
