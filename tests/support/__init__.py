"""Test support shared by every test folder (import as ``tests.support.…``)."""
