"""One endpoint call across workers: RedisBackend(lock=True) on a real redis-server.

Two apps, each with its own FastAPICache and RedisBackend on one server, stand
for two worker processes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import caching_router, make_app, open_client

from fastapi_caching_route import FastAPICache, RedisBackend

pytestmark = pytest.mark.anyio


def _worker(backend: RedisBackend, calls: list[int]) -> Any:
    router = caching_router()
    cache = FastAPICache(backend)

    @cache(ttl=60)
    @router.get("/cold")
    async def cold() -> dict[str, int]:
        calls.append(1)
        await asyncio.sleep(0.3)
        return {"calls": len(calls)}

    return make_app(router)


@pytest.mark.parametrize("lock", [True, False])
async def test_a_cold_key_on_two_workers_runs_the_endpoint_once(redis_url: str, lock: bool) -> None:
    calls: list[int] = []
    first = RedisBackend.from_url(redis_url, timeout=5.0, lock=lock, lock_lease=5.0)
    second = RedisBackend.from_url(redis_url, timeout=5.0, lock=lock, lock_lease=5.0)
    async with open_client(_worker(first, calls)) as a, open_client(_worker(second, calls)) as b:
        responses = await asyncio.gather(*(c.get("/cold") for c in (a, b) * 10))
    await first.close()
    await second.close()
    assert all(r.status_code == 200 for r in responses)
    if lock:
        assert len(calls) == 1
        assert all(r.json() == {"calls": 1} for r in responses)
        assert sorted(r.headers["x-cache"] for r in responses).count("MISS") == 1
    else:
        assert len(calls) == 2  # one per worker: coalescing alone stays in a process
