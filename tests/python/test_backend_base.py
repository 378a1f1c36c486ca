"""A backend written against CacheBackend: what the base class gives it, and
what it says about what the backend does not implement."""

from __future__ import annotations

from typing import Any

import pytest

from fastapi_caching_route import CacheBackend, StoredResponse

pytestmark = pytest.mark.anyio


class _DictBackend(CacheBackend):
    """The least a backend implements: get, set, delete and clear."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str | None, str], StoredResponse] = {}

    async def get(
        self, key: str, namespace: str | None = None, *, headers: Any = None
    ) -> StoredResponse | None:
        return self.entries.get((namespace, key))

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        self.entries[(namespace, key)] = value
        return True

    async def delete(self, key: str, namespace: str | None = None) -> int:
        return 1 if self.entries.pop((namespace, key), None) is not None else 0

    async def clear(self, namespace: str | None = None) -> int:
        gone = [k for k in self.entries if k[0] == namespace]
        for k in gone:
            del self.entries[k]
        return len(gone)


async def test_what_a_minimal_backend_gets_from_the_base_class() -> None:
    backend = _DictBackend()
    assert backend.stats() == {}
    assert (backend.lock, backend.synchronous, backend.lookup_after_native_miss) == (
        False,
        False,
        False,
    )
    with pytest.raises(NotImplementedError) as raised:
        await backend.invalidate_tags(["t"])
    assert str(raised.value) == (
        "_DictBackend does not implement invalidate_tags(): use a backend with tags "
        "(MemoryBackend, RedisBackend, TieredBackend, AiocacheBackend) or implement it"
    )
    with pytest.raises(NotImplementedError) as raised:
        await backend.acquire("k")
    assert str(raised.value) == "_DictBackend has no cross-worker lock"
    with pytest.raises(NotImplementedError) as raised:
        await backend.wait_released("k", None, 1.0)
    assert str(raised.value) == "_DictBackend has no cross-worker lock"
    with pytest.raises(NotImplementedError) as raised:
        backend.get_nowait("k")
    assert str(raised.value) == "_DictBackend has no synchronous lookup"
