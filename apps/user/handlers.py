"""Subscribers of the user app to other apps' events (none yet)."""
