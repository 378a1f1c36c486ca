"""A backend written against CacheBackend: what the base class gives it, and
what it says about what the backend does not implement."""

from __future__ import annotations

import pytest
from conftest import DictBackend

pytestmark = pytest.mark.anyio


class _DictBackend(DictBackend):
    """The least a backend implements: get, set, delete and clear."""


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
