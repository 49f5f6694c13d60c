"""open_store: the state URL picks and configures a backend, or fails clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.state import RedisStore, SqliteStore, open_store
from service.state.keys import DEFAULT_PREFIX


async def test_sqlite_relative_path_as_the_config_default_spells_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///trawler-data/state.db")
    assert isinstance(store, SqliteStore)
    assert store.path == "trawler-data/state.db"
    await store.open()
    try:
        await store.set_checkpoint("c", "v")
    finally:
        await store.close()
    assert (tmp_path / "trawler-data" / "state.db").is_file()


def test_sqlite_absolute_path_has_four_slashes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    assert isinstance(store, SqliteStore)
    assert os.path.isabs(store.path) and store.path == str(tmp_path / "state.db")


def test_redis_url_with_prefix_and_db() -> None:
    store = open_store("redis://:secret@127.0.0.1:6390/3?prefix=prod:")
    assert isinstance(store, RedisStore)
    assert store.keys.prefix == "prod:"
    assert store.where == "127.0.0.1:6390/3"
    default = open_store("redis://127.0.0.1:6390/0")
    assert isinstance(default, RedisStore) and default.keys.prefix == DEFAULT_PREFIX


@pytest.mark.parametrize("url", [
    "postgres://user:secret@db/trawler",
    "secret",
    "",
    "sqlite:relative.db",
    "sqlite:///",
    "redis://127.0.0.1:6379/0?prefix=",
    "redis://127.0.0.1:6379/0?decode_responses=true",
])
def test_bad_urls_fail_clearly_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        open_store(url)
    assert "secret" not in str(caught.value)
    assert str(caught.value)
