"""Every contract test runs once on SQLite and once on Redis (tests/conftest.py)."""

from __future__ import annotations

import pytest

from service.state import Store


@pytest.fixture
async def store(backend_store: Store) -> Store:
    return backend_store
