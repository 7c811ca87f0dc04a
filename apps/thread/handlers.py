"""Subscribers of the thread app to other apps' events (none yet)."""
