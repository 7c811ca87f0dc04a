"""Subscribers of the authorization app to other apps' events (none yet)."""
