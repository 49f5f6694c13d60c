"""Indicator storage: both backends keep, list, replace and delete records alike."""

from __future__ import annotations

from tests.conftest import MakeStore


async def test_put_list_replace_delete(make_store: MakeStore) -> None:
    store = await make_store()
    assert await store.list_indicators() == []
    await store.put_indicator("domain:evil.example", {"type": "domain", "value": "evil.example"})
    await store.put_indicator("email:a@b.example", {"type": "email", "value": "a@b.example"})
    await store.put_indicator("domain:evil.example",
                              {"type": "domain", "value": "evil.example", "reason": "new"})
    listed = await store.list_indicators()
    # key order: "domain:..." before "email:..."; the replaced record, not both
    assert listed == [{"type": "domain", "value": "evil.example", "reason": "new"},
                      {"type": "email", "value": "a@b.example"}]
    assert await store.delete_indicator("domain:evil.example") is True
    assert await store.delete_indicator("domain:evil.example") is False
    assert await store.list_indicators() == [{"type": "email", "value": "a@b.example"}]


async def test_shared_between_replicas_and_binary_safe_keys(make_store: MakeStore) -> None:
    writer, reader = await make_store(), await make_store()
    key = "subject:\udcff\u00e9"  # lone surrogate from a surrogateescape'd header
    await writer.put_indicator(key, {"value": "x"})
    assert await reader.list_indicators() == [{"value": "x"}]
    assert await reader.delete_indicator(key) is True
    assert await writer.list_indicators() == []
