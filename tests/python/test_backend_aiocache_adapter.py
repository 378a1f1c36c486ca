"""AiocacheBackend: namespaces, ttl, Vary variants and clear on an aiocache cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiocache import SimpleMemoryCache

from fastapi_caching_route import AiocacheBackend, StoredResponse
from fastapi_caching_route._core import secondary_key
from fastapi_caching_route.backends.aiocache import is_aiocache_cache

pytestmark = pytest.mark.anyio


def _entry(body: bytes, accept: str | None = None) -> StoredResponse:
    if accept is None:
        return StoredResponse(200, (), body, None)
    headers = [(b"accept", accept.encode())]
    return StoredResponse(
        200, (), body, None, vary=("accept",), secondary=secondary_key(["accept"], headers)
    )


async def test_set_passes_namespace_and_ttl() -> None:
    backend = AiocacheBackend(SimpleMemoryCache())
    assert await backend.set("GET /t", _entry(b"short"), namespace="n", ttl=0.1)
    assert await backend.set("GET /k", _entry(b"kept"), namespace="n")
    assert await backend.get("GET /t") is None  # another namespace
    assert await backend.get("GET /t", "n") is not None
    await asyncio.sleep(0.3)
    assert await backend.get("GET /t", "n") is None
    kept = await backend.get("GET /k", "n")
    assert kept is not None and kept.body == b"kept"


@pytest.mark.parametrize("namespace", [None, "n"])
async def test_variants_of_a_key_coexist_in_their_namespace(namespace: str | None) -> None:
    backend = AiocacheBackend(SimpleMemoryCache())
    assert await backend.set("GET /v", _entry(b"plain"), namespace=namespace)  # no Vary yet
    for accept in ("text/html", "application/json"):
        assert await backend.set("GET /v", _entry(accept.encode(), accept), namespace=namespace)
    for accept in ("text/html", "application/json"):
        found = await backend.get("GET /v", namespace, headers=[(b"accept", accept.encode())])
        assert found is not None and found.body == accept.encode()
    assert await backend.get("GET /v", namespace, headers=[(b"accept", b"x/y")]) is None


async def test_clear_empties_one_namespace_and_says_so() -> None:
    backend = AiocacheBackend(SimpleMemoryCache())
    await backend.set("GET /a", _entry(b"a"), namespace="n")
    await backend.set("GET /a", _entry(b"root"))
    assert await backend.clear("n") == 1
    assert await backend.get("GET /a", "n") is None
    assert await backend.get("GET /a") is not None


def test_the_root_namespace_is_the_caches_own() -> None:
    assert AiocacheBackend(SimpleMemoryCache(namespace="root")).namespace == "root"
    assert AiocacheBackend(SimpleMemoryCache()).namespace is None

    class NoNamespace:
        pass

    assert AiocacheBackend(NoNamespace()).namespace is None  # type: ignore[arg-type]


def test_only_aiocache_caches_are_recognised() -> None:
    class BaseCache:  # the name alone is not aiocache's
        pass

    class Lookalike(BaseCache):
        pass

    Other: Any = type("Other", (), {"__module__": "aiocache.lookalike"})
    assert is_aiocache_cache(SimpleMemoryCache())
    assert not is_aiocache_cache(Lookalike())
    assert not is_aiocache_cache(Other())
    assert not is_aiocache_cache(object())
