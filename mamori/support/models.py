"""Models of mamori.support."""
