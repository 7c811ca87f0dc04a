"""Real-time gateway (placeholder)."""
