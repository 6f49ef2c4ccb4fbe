"""Models of mamori.monitoring."""
