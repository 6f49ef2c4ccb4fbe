"""Every lifecycle test starts with the configured (development) master key and an empty key cache."""

import pytest

from mamori.lifecycle import keys


@pytest.fixture(autouse=True)
def _fresh_key_cache(monkeypatch):
    monkeypatch.delenv("MAMORI_MASTER_KEY", raising=False)
    monkeypatch.delenv("MAMORI_MASTER_KEY_FILE", raising=False)
    keys.clear_cache()
    yield
    keys.clear_cache()
