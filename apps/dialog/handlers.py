"""Subscribers of the dialog app to other apps' events (none yet)."""
