"""Subscribers of the admin app to other apps' events (none yet)."""
