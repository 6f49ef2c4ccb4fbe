from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    """Evidence packages go to a throw-away folder."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "files")}}}
