"""Models of mamori.incidents."""
