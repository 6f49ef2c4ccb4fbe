"""Control checks, one module per topic; each registers its controls with
``mamori.compliance.registry.control`` when imported (``registry.load_checks``)."""
