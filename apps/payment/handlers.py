"""Subscribers of the payment app to other apps' events (none yet)."""
