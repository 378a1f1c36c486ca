"""A failing store serves every request uncached, counts each failure, and logs
what failed (rate-limited) on the ``fastapi_caching_route`` logger."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import Calls, caching_router, make_app, open_client

from fastapi_caching_route import FastAPICache, MemoryBackend, StoredResponse
from fastapi_caching_route.backends.base import CacheBackend

pytestmark = pytest.mark.anyio


class Broken(CacheBackend):
    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        raise ConnectionError("store down")

    async def set(self, key: str, value: StoredResponse, **kwargs: Any) -> bool:
        raise ConnectionError("store down")

    async def delete(self, key: str, namespace: str | None = None) -> int:
        raise ConnectionError("store down")

    async def clear(self, namespace: str | None = None) -> int:
        raise ConnectionError("store down")


class BrokenHitPath:
    def answer(self, scope: Any, now: float) -> Any:
        raise RuntimeError("engine down")

    def lookup(self, *args: Any) -> Any:
        raise RuntimeError("engine down")


class NativeWithBrokenHitPath(MemoryBackend):
    def hit_path(self, *args: Any, **kwargs: Any) -> Any:
        return BrokenHitPath()


async def _three_requests(cache: FastAPICache) -> list[Any]:
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/f")
    def fragile() -> str:
        calls()
        return "still here"

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/f") for _ in range(3)]
    assert calls.count == 3
    assert all(a.json() == "still here" for a in answers)
    return answers


async def test_each_failure_is_counted_and_logged_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = FastAPICache(Broken())
    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        await _three_requests(cache)
    route = cache.stats()["route"]
    assert (route["lookup_errors"], route["store_errors"]) == (3, 3)
    messages = [r.getMessage() for r in caplog.records if r.name == "fastapi_caching_route"]
    assert messages == [
        "cache lookup failed; serving uncached",
        "cache store failed; response served uncached",
    ]
    assert all(r.exc_info is not None for r in caplog.records)


async def test_a_failing_native_hit_path_serves_uncached(caplog: pytest.LogCaptureFixture) -> None:
    cache = FastAPICache(NativeWithBrokenHitPath())
    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        answers = await _three_requests(cache)
    assert all(a.headers.get("x-cache") != "HIT" for a in answers)
    assert cache.stats()["route"]["lookup_errors"] == 3
    messages = [r.getMessage() for r in caplog.records if r.name == "fastapi_caching_route"]
    assert messages == ["cache lookup failed; serving uncached"]
