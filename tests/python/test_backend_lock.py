"""RedisBackend's per-key lock: one worker calls the endpoint, the others wait.

Two RedisBackend instances on one redis-server play two workers. No test
asserts on timing: conditions are polled with generous deadlines.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_caching_route import CircuitBreaker, RedisBackend, TieredBackend
from fastapi_caching_route.backends import LockHandle

pytestmark = pytest.mark.anyio

DEADLINE = 30.0  # seconds a condition may take to come true on a busy machine


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[tuple[RedisBackend, RedisBackend]]:
    first = RedisBackend.from_url(redis_url, lock=True, lock_lease=2.0)
    second = RedisBackend.from_url(redis_url, lock=True, lock_lease=2.0)
    yield first, second
    await first.close()
    await second.close()


async def test_one_worker_takes_the_lock_and_the_others_wait_for_its_release(
    workers: tuple[RedisBackend, RedisBackend],
) -> None:
    first, second = workers
    handle = await first.acquire("GET /k", "ns")
    assert handle is not None and handle.held
    assert await second.acquire("GET /k", "ns") is None  # held by the first worker
    assert await first.acquire("GET /k", "ns") is None  # by this worker's other request too
    other = await second.acquire("GET /other", "ns")  # other keys are independent
    assert other is not None
    waiting = asyncio.ensure_future(second.wait_released("GET /k", "ns", DEADLINE))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert await handle.release()
    assert not handle.held
    assert await asyncio.wait_for(waiting, DEADLINE)
    assert not await handle.release()  # once
    again = await second.acquire("GET /k", "ns")
    assert again is not None
    await again.release()
    await other.release()
    assert first.stats()["lock_acquired"] == 1
    assert second.stats()["lock_acquired"] == 2
    assert second.stats()["lock_busy"] == 1
    assert second.stats()["lock_waits"] == 1


async def test_wait_released_returns_false_when_the_holder_keeps_it(
    workers: tuple[RedisBackend, RedisBackend],
) -> None:
    first, second = workers
    handle = await first.acquire("GET /slow")
    assert handle is not None
    assert not await second.wait_released("GET /slow", None, 0.1)
    assert await second.wait_released("GET /free", None, 0.1)  # nobody holds it
    assert second.stats()["lock_wait_timeouts"] == 1
    await handle.release()


async def test_a_crashed_holders_lock_expires_after_its_lease(redis_url: str) -> None:
    crashed = RedisBackend.from_url(redis_url, lock_lease=0.3)
    survivor = RedisBackend.from_url(redis_url, lock_lease=0.3)
    handle = await crashed.acquire("GET /c")
    assert handle is not None
    # The worker dies: nothing renews the lease any more, nothing releases it.
    renewal = handle._renewal  # type: ignore[attr-defined]
    renewal.cancel()
    await asyncio.wait({renewal})
    await crashed.client.aclose()
    assert await survivor.wait_released("GET /c", None, DEADLINE)
    taken = await survivor.acquire("GET /c")
    assert taken is not None
    await taken.release()
    await survivor.close()


async def test_a_handle_dropped_without_release_stops_renewing(redis_url: str) -> None:
    first = RedisBackend.from_url(redis_url, lock_lease=0.3)
    second = RedisBackend.from_url(redis_url, lock_lease=0.3)
    handle = await first.acquire("GET /dropped")
    assert handle is not None
    renewal = handle._renewal  # type: ignore[attr-defined]
    del handle
    gc.collect()
    await asyncio.wait_for(renewal, DEADLINE)  # it noticed and ended
    assert await second.wait_released("GET /dropped", None, DEADLINE)
    await first.close()
    await second.close()


async def test_renewal_keeps_a_long_holders_lock(
    workers: tuple[RedisBackend, RedisBackend],
) -> None:
    first, second = workers
    handle = await first.acquire("GET /long")
    assert handle is not None
    lock_key = first.lock_key("GET /long")
    token = await first.client.get(lock_key)
    started = time.monotonic()
    # Held across three leases: renewed every third of one.
    while time.monotonic() - started < 3 * first.lock_lease:
        assert await first.client.get(lock_key) == token
        assert await second.acquire("GET /long") is None
        await asyncio.sleep(0.2)
    assert handle.held
    assert await handle.release()
    assert await first.client.exists(lock_key) == 0


async def test_a_holder_whose_lease_ran_out_never_releases_the_next_holders_lock(
    workers: tuple[RedisBackend, RedisBackend],
) -> None:
    first, second = workers
    handle = await first.acquire("GET /late")
    assert handle is not None
    renewal = handle._renewal  # type: ignore[attr-defined]
    renewal.cancel()
    await asyncio.wait({renewal})
    await first.client.delete(first.lock_key("GET /late"))  # as if the lease had run out
    taken = await second.acquire("GET /late")
    assert taken is not None
    assert not await handle.release()  # compare-and-delete: not ours any more
    assert await first.client.exists(first.lock_key("GET /late")) == 1
    await taken.release()


async def test_the_handle_is_an_async_context_manager(
    workers: tuple[RedisBackend, RedisBackend],
) -> None:
    first, second = workers
    handle = await first.acquire("GET /ctx")
    assert isinstance(handle, LockHandle)
    async with handle:
        assert await second.acquire("GET /ctx") is None
    assert not handle.held
    assert await second.wait_released("GET /ctx", None, DEADLINE)


async def test_the_lock_key_shares_the_entrys_hash_tag(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url, namespace="root")
    entry_key = backend.redis_key("GET /x", "ns")
    assert backend.lock_key("GET /x", "ns") == f"{entry_key}:lock"
    assert entry_key.endswith("}")  # the hash tag is the last part of the entry key
    await backend.close()


async def test_the_lock_fails_open_when_redis_is_unreachable() -> None:
    down = aioredis.Redis(
        host="127.0.0.1",
        port=1,
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    backend = RedisBackend(down, lock=True)
    assert await backend.acquire("GET /d") is None  # no exception
    assert not await backend.wait_released("GET /d", None, DEADLINE)  # at once, not after 30 s
    for _ in range(10):  # the breaker opens: Redis is not even asked
        assert await backend.acquire("GET /d") is None
    assert backend.stats()["lock_errors"] >= 12
    await backend.close()


def test_lock_settings_are_checked() -> None:
    client = aioredis.Redis()
    backend = RedisBackend(client, lock=True, lock_lease=1.5)
    assert (backend.lock, backend.lock_lease) == (True, 1.5)
    assert (RedisBackend(client).lock, RedisBackend(client).lock_lease) == (False, 5.0)
    with pytest.raises(ValueError, match="lock_lease"):
        RedisBackend(client, lock_lease=0)
    assert RedisBackend(client, lock_lease=0.01).lock_lease == 0.01  # the shortest allowed
    with pytest.raises(TypeError, match=r"^lock_lease must be a number of seconds, not str$"):
        RedisBackend(client, lock_lease="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lock_lease"):
        RedisBackend(client, lock_lease=float("inf"))
    with pytest.raises(TypeError, match="lock_lease"):
        RedisBackend(client, lock_lease="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lock"):
        RedisBackend(client, lock=1)  # type: ignore[arg-type]


async def test_tiered_delegates_the_lock_to_its_shared_tier(redis_url: str) -> None:
    first = TieredBackend(RedisBackend.from_url(redis_url, lock=True, lock_lease=2.0))
    second = TieredBackend(RedisBackend.from_url(redis_url, lock=True))
    assert (first.lock, first.lock_lease) == (True, 2.0)
    assert not TieredBackend(RedisBackend(aioredis.Redis())).lock
    handle = await first.acquire("GET /t")
    assert handle is not None
    assert await second.acquire("GET /t") is None
    await handle.release()
    assert await second.wait_released("GET /t", None, DEADLINE)
    assert first.stats()["l2"]["lock_acquired"] == 1
    # Each namespace has its own lock of a key.
    held = await first.acquire("GET /t")
    assert held is not None
    assert await second.wait_released("GET /t", "n", DEADLINE)  # free in "n"
    in_n = await second.acquire("GET /t", "n")
    assert in_n is not None
    assert await first.acquire("GET /t", "n") is None
    await in_n.release()
    await held.release()
    await first.close()
    await second.close()


def _unreachable(**options: Any) -> RedisBackend:
    down = aioredis.Redis(
        host="127.0.0.1",
        port=1,
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    return RedisBackend(down, lock=True, **options)


async def test_lock_errors_and_waits_are_counted_one_by_one() -> None:
    backend = _unreachable(breaker=CircuitBreaker(threshold=2))
    try:
        assert await backend.acquire("GET /d") is None  # Redis asked: an error
        assert not await backend.wait_released("GET /d", None, DEADLINE)  # the breaker opens
        assert not await backend.wait_released("GET /d", None, DEADLINE)  # open: not asked
        assert await backend.acquire("GET /d") is None
        stats = backend.stats()
        assert (stats["lock_errors"], stats["lock_waits"]) == (4, 2)
    finally:
        await backend.close()


async def test_waits_time_out_counted_and_a_zero_timeout_looks_once(
    workers: tuple[RedisBackend, RedisBackend],
) -> None:
    first, second = workers
    handle = await first.acquire("GET /held")
    assert handle is not None
    for _ in range(2):
        assert not await second.wait_released("GET /held", None, 0.05)
    assert second.stats()["lock_wait_timeouts"] == 2

    async def release_later() -> None:
        await asyncio.sleep(0.3)
        await handle.release()

    releasing = asyncio.ensure_future(release_later())
    assert not await second.wait_released("GET /held", None, 0)  # held when it looked
    await releasing
    # A timeout under a second is still waited for.
    soon = await first.acquire("GET /soon")
    assert soon is not None
    waiting = asyncio.ensure_future(second.wait_released("GET /soon", None, 0.9))
    await asyncio.sleep(0.05)
    await soon.release()
    assert await waiting


async def test_a_release_redis_does_not_take_says_so_and_leaves_no_task(
    workers: tuple[RedisBackend, RedisBackend],
) -> None:
    first, _ = workers
    before = asyncio.all_tasks()
    handle = await first.acquire("GET /r")
    assert handle is not None
    released = await handle.release()
    assert released is True
    assert asyncio.all_tasks() - before == set()  # the renewal ended with the release
    handle = await first.acquire("GET /r")
    assert handle is not None
    client: Any = first.client

    async def evalsha(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Redis is down")

    client.evalsha = evalsha
    errors = first.stats()["lock_errors"]
    assert await handle.release() is False  # never raises; the lease runs out instead
    assert first.stats()["lock_errors"] == errors + 1


async def test_a_failed_renewal_is_tried_again_at_the_next_one(redis_url: str) -> None:
    holder = RedisBackend.from_url(redis_url, lock=True, lock_lease=0.6)
    try:
        client: Any = holder.client
        real_evalsha = client.evalsha
        failures = []

        async def evalsha(*args: Any, **kwargs: Any) -> Any:
            if not failures:  # the first renewal fails, as on a brief outage
                failures.append(args)
                raise RedisConnectionError("Redis is down")
            return await real_evalsha(*args, **kwargs)

        handle = await holder.acquire("GET /renewed")
        assert handle is not None
        client.evalsha = evalsha
        lock_key = holder.lock_key("GET /renewed")
        started = time.monotonic()
        while time.monotonic() - started < 3 * holder.lock_lease:  # three leases
            assert await client.exists(lock_key) == 1
            await asyncio.sleep(0.1)
        assert failures and handle.held
        assert await handle.release()
    finally:
        await holder.close()


async def test_a_holder_whose_lock_was_taken_stops_holding_it_at_the_next_renewal(
    redis_url: str,
) -> None:
    # The renewal finds another worker's token: the handle says so at once,
    # not only when its own lease would have run out.
    holder = RedisBackend.from_url(redis_url, lock=True, lock_lease=3.0)
    other = RedisBackend.from_url(redis_url, lock=True, lock_lease=30.0)
    try:
        handle = await holder.acquire("GET /taken")
        assert handle is not None
        await holder.client.delete(holder.lock_key("GET /taken"))  # as if it had expired
        taken = await other.acquire("GET /taken")
        assert taken is not None
        renewal = handle._renewal  # type: ignore[attr-defined]
        await asyncio.wait_for(renewal, DEADLINE)  # the first renewal (after a second) ends it
        assert not handle.held
        assert not await handle.release()  # and it leaves the other worker's lock alone
        assert await other.client.exists(other.lock_key("GET /taken")) == 1
        await taken.release()
    finally:
        await holder.close()
        await other.close()
