"""Subscribers of the frame app to other apps' events (none yet)."""
