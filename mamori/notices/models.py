"""Models of mamori.notices."""
