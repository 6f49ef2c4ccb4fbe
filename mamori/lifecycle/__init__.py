"""Data keys and data lifecycle."""
