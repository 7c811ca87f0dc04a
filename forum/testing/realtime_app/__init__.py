"""Test-only app: real-time topics for the gateway tests."""
