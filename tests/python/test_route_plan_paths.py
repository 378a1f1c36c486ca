"""The request flow's less travelled paths (`_plan.CachePlan`), end to end.

What a request does while another worker holds the key's lock
(RedisBackend(lock=True)); what a request that was still looking up when a
leader finished, or a follower that gave up on its leader, asks and stores;
lookups through backends of one's own (no native hit path, with or without
``headers``, synchronous or not) in a route's namespace; and the reuse
decision's edges that only show in Cache-Status (RFC 9211), in revalidation
(RFC 9111 section 4.3) and in stale-if-error (RFC 5861 section 4).

No test asserts on timing: races are made deterministic with events and
gates, and conditions are awaited with generous deadlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from conftest import caching_router, make_app, open_client
from fastapi import Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import (
    FastAPICache,
    RedisBackend,
)

pytestmark = pytest.mark.anyio

DEADLINE = 30.0  # seconds a condition may take to come true on a busy machine
NAME = "fastapi-caching-route"  # the default Cache-Status member name
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (never a timing assertion: a deadline)."""
    with anyio.fail_after(DEADLINE):
        while not condition():
            await asyncio.sleep(0.005)


async def _set(event: asyncio.Event) -> None:
    with anyio.fail_after(DEADLINE):
        await event.wait()


def _route(cache: FastAPICache) -> dict[str, int]:
    return dict(cache.stats()["route"])


# --- another worker holds the key's lock (RedisBackend(lock=True)) ---------------------------

LOCKED = "GET /locked"  # the route's cache key: method and path
NS = "locks"


class _Worker(RedisBackend):
    """A RedisBackend that says when a request starts waiting for another
    worker's lock."""

    waiting: asyncio.Event

    async def wait_released(self, key: str, namespace: str | None, timeout: float) -> bool:
        self.waiting.set()
        return await super().wait_released(key, namespace, timeout)


def _locked_app(
    backend: RedisBackend, calls: list[str], lock_seen: list[int], **options: Any
) -> tuple[Any, FastAPICache]:
    cache = FastAPICache(backend, **options)
    router = caching_router()

    @cache(ttl=60, namespace=NS)
    @router.get("/locked")
    async def locked() -> Response:
        # Whether another worker's lock on this key is still held while we run.
        lock_seen.append(await backend.client.exists(backend.lock_key(LOCKED, NS)))
        calls.append(f"{id(backend)}")
        return PlainTextResponse(f"call {len(calls)}")

    return make_app(router), cache


async def test_a_request_waits_for_the_lock_in_its_routes_namespace_and_answers_the_holders_entry(
    redis_url: str,
) -> None:
    # Another worker holds the lock of this key in the route's namespace: this
    # worker must not call the endpoint, but wait for the holder and answer
    # what it stored.
    worker = _Worker.from_url(redis_url, timeout=5.0, lock=True)
    worker.waiting = asyncio.Event()
    holder = RedisBackend.from_url(redis_url, timeout=5.0)  # the other worker, by hand
    calls: list[str] = []
    lock_seen: list[int] = []
    holder_calls: list[str] = []
    app, _ = _locked_app(worker, calls, lock_seen, coalesce_timeout=DEADLINE)
    holder_app, _ = _locked_app(holder, holder_calls, [])
    lock = await holder.acquire(LOCKED, NS)
    assert lock is not None
    try:
        async with open_client(app) as client, open_client(holder_app) as other:
            asked = asyncio.ensure_future(client.get("/locked"))
            waiting = asyncio.ensure_future(worker.waiting.wait())
            await asyncio.wait({asked, waiting}, timeout=DEADLINE, return_when="FIRST_COMPLETED")
            waiting.cancel()
            assert worker.waiting.is_set() and not asked.done()  # it waits for the holder
            stored = await other.get("/locked")  # what the holder's endpoint answers
            await lock.release()
            answer = await asyncio.wait_for(asked, DEADLINE)
    finally:
        await lock.release()
        await worker.close()
        await holder.close()
    assert (stored.text, stored.headers["x-cache"]) == ("call 1", "MISS")
    assert (answer.status_code, answer.text, answer.headers["x-cache"]) == (200, "call 1", "HIT")
    assert calls == []  # this worker's endpoint never ran


async def test_a_request_whose_lock_wait_ends_without_an_entry_runs_the_endpoint_after_the_release(
    redis_url: str,
) -> None:
    # The holder released the lock but stored nothing (its response was not
    # cacheable, or it failed): the waiting request runs the endpoint itself,
    # once the lock is gone, and stores its answer.
    worker = _Worker.from_url(redis_url, timeout=5.0, lock=True)
    worker.waiting = asyncio.Event()
    holder = RedisBackend.from_url(redis_url, timeout=5.0)
    calls: list[str] = []
    lock_seen: list[int] = []
    app, cache = _locked_app(worker, calls, lock_seen, coalesce_timeout=DEADLINE)
    lock = await holder.acquire(LOCKED, NS)
    assert lock is not None
    try:
        async with open_client(app) as client:
            asked = asyncio.ensure_future(client.get("/locked"))
            await _set(worker.waiting)
            await lock.release()
            answer = await asyncio.wait_for(asked, DEADLINE)
            again = await client.get("/locked")
    finally:
        await lock.release()
        await worker.close()
        await holder.close()
    assert (answer.text, answer.headers["x-cache"]) == ("call 1", "MISS")
    assert (again.text, again.headers["x-cache"]) == ("call 1", "HIT")
    assert lock_seen == [0]  # the endpoint ran once, after the holder's lock was gone
    assert _route(cache)["lock_fell_through"] == 1


async def test_a_request_that_waited_too_long_for_the_lock_runs_the_endpoint_and_stores_it(
    redis_url: str,
) -> None:
    # A holder that keeps the lock past coalesce_timeout: each request that
    # gave up waiting runs the endpoint, is counted, and its answer is stored
    # for the next request.
    worker = RedisBackend.from_url(redis_url, timeout=5.0, lock=True)
    holder = RedisBackend.from_url(redis_url, timeout=5.0)
    calls: list[str] = []
    lock_seen: list[int] = []
    app, cache = _locked_app(worker, calls, lock_seen, coalesce_timeout=0.05)
    lock = await holder.acquire(LOCKED, NS)
    assert lock is not None
    try:
        async with open_client(app) as client:
            first = [await client.get("/locked") for _ in range(2)]
            fell_through_once = _route(cache)["lock_fell_through"]
            await cache.invalidate_cached(LOCKED, NS)
            second = [await client.get("/locked") for _ in range(2)]
    finally:
        await lock.release()
        await worker.close()
        await holder.close()
    answers = [(r.text, r.headers["x-cache"]) for r in first + second]
    assert answers == [("call 1", "MISS"), ("call 1", "HIT"), ("call 2", "MISS"), ("call 2", "HIT")]
    assert lock_seen == [1, 1]  # it ran while the holder still held the lock
    assert fell_through_once == 1
    assert _route(cache)["lock_fell_through"] == 2
