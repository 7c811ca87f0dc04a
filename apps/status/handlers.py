"""Subscribers of the status app to other apps' events (none yet)."""
