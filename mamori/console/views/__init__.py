"""Tenant console views, one module per area; each view is thin (parse, call, render)."""
