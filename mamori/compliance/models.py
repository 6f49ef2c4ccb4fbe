"""Models of mamori.compliance."""
