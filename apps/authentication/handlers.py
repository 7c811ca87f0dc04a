"""Subscribers of the authentication app to other apps' events (none yet)."""
