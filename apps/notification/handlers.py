"""Subscribers of the notification app to other apps' events (none yet)."""
