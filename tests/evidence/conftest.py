from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _storage(storage):
    """Evidence packages go to a throw-away folder."""
