"""Multi-factor authentication policy."""
