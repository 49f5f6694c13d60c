"""The stateful scanners (headers' first-time sender, indicators) run on both stores."""

from __future__ import annotations

import pytest

from service.state import Store


@pytest.fixture
async def store(backend_store: Store) -> Store:
    return backend_store
