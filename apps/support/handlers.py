"""Subscribers of the support app to other apps' events (none yet)."""
