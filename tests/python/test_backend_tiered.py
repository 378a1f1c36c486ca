"""TieredBackend: in-process L1 in front of Redis, invalidations across workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from conftest import Calls, caching_router, make_app, open_client
from fastapi import Request
from fastapi.responses import PlainTextResponse
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_caching_route import (
    FastAPICache,
    MemoryBackend,
    RedisBackend,
    StoredResponse,
    TieredBackend,
)

pytestmark = pytest.mark.anyio

ENTRY = StoredResponse(200, ((b"content-type", b"text/plain"),), b"shared", "text/plain")
NEWER = StoredResponse(200, ((b"content-type", b"text/plain"),), b"newer", "text/plain")
DEADLINE = 30.0  # seconds a condition may take to come true on a busy machine


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[tuple[TieredBackend, TieredBackend]]:
    """Two workers' backends on one Redis, both listening for invalidations."""
    first = TieredBackend(RedisBackend.from_url(redis_url))
    second = TieredBackend(RedisBackend.from_url(redis_url))
    await first.get("warm-up")  # starts the listeners
    await second.get("warm-up")
    await _until_listening(first, second)
    yield first, second
    await first.close()
    await second.close()


async def _eventually(condition: Callable[[], bool]) -> bool:
    # Polls with a generous deadline (never a timing assertion).
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _until_listening(*backends: TieredBackend) -> None:
    # Until every listener is subscribed, so that no message is lost.
    if not await _eventually(lambda: all(b.listening for b in backends)):
        raise AssertionError("the invalidation listeners did not subscribe")


async def _eventually_gone(backend: TieredBackend, key: str, namespace: str | None = None) -> bool:
    return await _eventually(lambda: backend.l1.get_nowait(key, namespace) is None)


async def test_a_worker_finds_what_another_stored_and_keeps_it_in_l1(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    assert await first.set("GET /s", ENTRY, ttl=60)
    assert second.l1.get_nowait("GET /s") is None
    found = await second.get("GET /s")
    assert found is not None and found.body == b"shared"
    assert second.l1.get_nowait("GET /s") is not None
    assert second.stats()["l1_fills"] == 1


async def test_invalidations_reach_every_worker(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    await first.set("GET /d", ENTRY)
    await first.set("GET /c1", ENTRY, namespace="n")
    await second.get("GET /d")
    await second.get("GET /c1", namespace="n")
    assert await first.delete("GET /d") == 1
    assert await _eventually_gone(second, "GET /d")
    assert await first.clear("n") == 1
    assert await _eventually_gone(second, "GET /c1", "n")
    assert second.stats()["invalidations_received"] == 2


async def test_the_shared_tier_down_leaves_l1_serving_and_invalidations_local() -> None:
    # No retries: each command to the closed port fails at once.
    down = aioredis.Redis(
        host="127.0.0.1",
        port=1,
        socket_connect_timeout=0.2,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    backend = TieredBackend(RedisBackend(down))
    # Never subscribed, so L1 keeps this worker's responses only briefly; long
    # enough here for the test not to depend on timing.
    backend._suspect_ttl = 60.0
    assert await backend.set("GET /l", ENTRY)
    assert (await backend.get("GET /l")) is not None
    assert backend.stats()["l2_store_errors"] == 1
    # An invalidation Redis cannot take is no error to the caller: applied here
    # at once, sent when Redis is back.
    assert await backend.delete("GET /l") == 1
    assert backend.get_nowait("GET /l") is None
    assert await backend.clear() == 0
    assert backend.stats()["invalidations_pending"] >= 1
    await backend.close()


async def test_an_app_on_the_tiered_backend(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/t")
    def endpoint() -> str:
        calls()
        return "t"

    async with open_client(make_app(router)) as client:
        statuses = [(await client.get("/t")).headers["x-cache"] for _ in range(4)]
    assert statuses == ["MISS", "HIT", "HIT", "HIT"]
    assert calls.count == 1
    raw = await backend.l2.client.get(backend.l2.redis_key("GET /t"))
    assert raw is not None  # the shared tier has it for other workers
    await backend.close()


def test_tiered_needs_a_redis_backend() -> None:
    with pytest.raises(TypeError, match="l2"):
        TieredBackend(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="l1_ttl"):
        TieredBackend(RedisBackend(aioredis.Redis()), l1_ttl=0)


async def test_entries_too_large_for_l1_are_served_from_redis(redis_url: str) -> None:
    # Found by the shared-store benchmark: an L1 miss must still ask Redis.
    backend = TieredBackend(RedisBackend.from_url(redis_url), l1=MemoryBackend(max_bytes=1))
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/big")
    def endpoint() -> str:
        calls()
        return "stored only in Redis"

    async with open_client(make_app(router)) as client:
        statuses = [(await client.get("/big")).headers.get("x-cache") for _ in range(4)]
    assert statuses == ["MISS", "HIT", "HIT", "HIT"]
    assert calls.count == 1
    await backend.close()


async def test_close_stops_a_listener_caught_while_connecting(redis_url: str) -> None:
    # redis-py can swallow a cancellation that lands during its connection
    # handshake; close() must still end (a single cancel() hung here).
    for steps in range(0, 30, 3):
        # A generous connect timeout: a loaded machine must not fail the warm-up.
        backend = TieredBackend(RedisBackend.from_url(redis_url, timeout=10.0))
        await backend.get("warm-up")  # starts the listener
        for _ in range(steps):
            await asyncio.sleep(0)
        await asyncio.wait_for(backend.close(), timeout=30)
        assert backend.get_nowait("warm-up") is None


class _PausedRedis(RedisBackend):
    """A RedisBackend whose get() holds Redis's answer until released."""

    def __init__(self, url: str) -> None:
        super().__init__(aioredis.Redis.from_url(url))
        self.pausing = False
        self.answered = asyncio.Event()
        self.release = asyncio.Event()

    async def get(
        self, key: str, namespace: str | None = None, *, headers: Any = None
    ) -> StoredResponse | None:
        found = await super().get(key, namespace, headers=headers)
        if self.pausing:
            self.answered.set()
            await self.release.wait()
        return found


@pytest.fixture
async def paused_reader(
    redis_url: str,
) -> AsyncIterator[tuple[TieredBackend, _PausedRedis, TieredBackend]]:
    """A worker whose Redis reads can be held in flight, and another worker."""
    paused = _PausedRedis(redis_url)
    reader = TieredBackend(paused)
    writer = TieredBackend(RedisBackend.from_url(redis_url))
    await reader.get("warm-up")
    await writer.get("warm-up")
    await _until_listening(reader, writer)
    yield reader, paused, writer
    paused.release.set()
    await reader.close()
    await writer.close()


@pytest.mark.parametrize("invalidation", ["delete there", "clear there", "delete here"])
async def test_an_invalidation_during_a_redis_read_is_not_undone_by_its_l1_fill(
    paused_reader: tuple[TieredBackend, _PausedRedis, TieredBackend], invalidation: str
) -> None:
    reader, paused, writer = paused_reader
    assert await writer.set("GET /r", ENTRY, ttl=60)
    paused.pausing = True
    read = asyncio.ensure_future(reader.get("GET /r"))
    await asyncio.wait_for(paused.answered.wait(), DEADLINE)  # Redis answered: the old entry
    if invalidation == "delete here":
        assert await reader.delete("GET /r") == 1
    else:
        received = reader.stats()["invalidations_received"]
        if invalidation == "delete there":
            assert await writer.delete("GET /r") == 1
        else:
            assert await writer.clear() == 1
        # The message reached the reader while its read was in flight.
        assert await _eventually(lambda: reader.stats()["invalidations_received"] > received)
    paused.release.set()
    found = await read
    assert found is not None and found.body == b"shared"  # that read began before
    assert reader.l1.get_nowait("GET /r") is None  # ... so L1 does not keep what it read
    paused.pausing = False
    assert await reader.get("GET /r") is None


@pytest.mark.parametrize("namespace", [None, "n"])
async def test_a_redis_read_does_not_overwrite_a_newer_store_in_l1(
    paused_reader: tuple[TieredBackend, _PausedRedis, TieredBackend], namespace: str | None
) -> None:
    reader, paused, writer = paused_reader
    assert await writer.set("GET /w", ENTRY, namespace=namespace, ttl=60)
    paused.pausing = True
    read = asyncio.ensure_future(reader.get("GET /w", namespace))
    await asyncio.wait_for(paused.answered.wait(), DEADLINE)
    assert await reader.set("GET /w", NEWER, namespace=namespace, ttl=60)
    paused.release.set()
    await read
    kept = reader.l1.get_nowait("GET /w", namespace)
    assert kept is not None and kept.body == b"newer"


async def test_a_subscription_lost_during_a_redis_read_keeps_its_answer_out_of_l1(
    paused_reader: tuple[TieredBackend, _PausedRedis, TieredBackend],
) -> None:
    reader, paused, writer = paused_reader
    assert await writer.set("GET /lost", ENTRY, ttl=60)
    paused.pausing = True
    read = asyncio.ensure_future(reader.get("GET /lost"))
    await asyncio.wait_for(paused.answered.wait(), DEADLINE)

    async def unanswered(pubsub: Any) -> None:
        return None  # the ping never reaches Redis: the subscription goes silent

    reader._reconnect_delay = 60.0  # not subscribed again during the test
    reader._heartbeat = 0.05
    reader._ping = unanswered  # type: ignore[method-assign]
    assert await _eventually(lambda: reader.stats()["listener_losses"] == 1)
    paused.release.set()
    found = await read
    assert found is not None and found.body == b"shared"  # it answers its request ...
    assert reader.l1.get_nowait("GET /lost") is None  # ... but a message may have been missed
    assert reader.stats()["l1_fills_withheld"] == 1


class _GatedRedis(RedisBackend):
    """A RedisBackend whose reads each wait, once Redis answered, for their own gate."""

    def __init__(self, url: str) -> None:
        super().__init__(aioredis.Redis.from_url(url))
        self.gates: list[asyncio.Event] = []

    async def get(
        self, key: str, namespace: str | None = None, *, headers: Any = None
    ) -> StoredResponse | None:
        found = await super().get(key, namespace, headers=headers)
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        return found


async def test_an_invalidation_reaches_a_read_still_in_flight_after_another_ended(
    redis_url: str,
) -> None:
    gated = _GatedRedis(redis_url)
    reader = TieredBackend(gated)
    writer = RedisBackend.from_url(redis_url)
    try:
        await writer.set("warm-up", ENTRY, ttl=60)
        warm_up = asyncio.ensure_future(reader.get("warm-up"))  # starts the listener
        assert await _eventually(lambda: len(gated.gates) == 1)
        gated.gates[0].set()
        await warm_up
        await _until_listening(reader)
        assert await writer.set("GET /two", ENTRY, ttl=60)
        first = asyncio.ensure_future(reader.get("GET /two"))
        second = asyncio.ensure_future(reader.get("GET /two"))
        assert await _eventually(lambda: len(gated.gates) == 3)  # both answered by Redis
        gated.gates[1].set()
        assert (await first) is not None
        assert await reader.delete("GET /two") == 1  # the first read's fill
        gated.gates[2].set()
        found = await second
        assert found is not None and found.body == b"shared"
        assert reader.l1.get_nowait("GET /two") is None  # the second read began before
        assert reader._reads == {}  # nothing left of the reads once they ended
    finally:
        for gate in gated.gates:
            gate.set()
        await writer.close()
        await reader.close()


async def test_no_fill_before_the_listener_has_subscribed(redis_url: str) -> None:
    writer = RedisBackend.from_url(redis_url)
    assert await writer.set("GET /early", ENTRY, ttl=60)
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    assert not backend.listening
    found = await backend.get("GET /early")  # starts the listener; it cannot be subscribed yet
    assert found is not None and found.body == b"shared"
    assert backend.l1.get_nowait("GET /early") is None
    await _until_listening(backend)
    assert await backend.get("GET /early") is not None
    assert backend.l1.get_nowait("GET /early") is not None
    await backend.close()
    await writer.close()


async def test_an_invalidation_redis_did_not_take_is_applied_here_and_sent_later(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    first._retry_delay = 0.05
    assert await first.set("GET /o", ENTRY, ttl=60)
    assert await second.get("GET /o") is not None
    assert second.l1.get_nowait("GET /o") is not None
    client: Any = first.l2.client
    real_delete, real_publish = client.delete, client.publish
    down = True

    async def delete(*args: Any) -> Any:
        if down:
            raise RedisConnectionError("Redis is down")
        return await real_delete(*args)

    async def publish(*args: Any) -> Any:
        if down:
            raise RedisConnectionError("Redis is down")
        return await real_publish(*args)

    client.delete, client.publish = delete, publish
    assert await first.delete("GET /o") == 1  # its own L1 copy; no exception
    assert first.l1.get_nowait("GET /o") is None
    # Redis still holds it, but this worker invalidated it: not served from there.
    assert await first.get("GET /o") is None
    assert first.stats()["invalidations_pending"] == 1
    assert second.l1.get_nowait("GET /o") is not None  # nothing could tell the other worker
    down = False
    assert await _eventually_gone(second, "GET /o")
    assert await _eventually(lambda: first.stats()["invalidations_pending"] == 0)
    assert await second.get("GET /o") is None  # deleted in Redis too


@pytest.mark.parametrize("client", ["default", "retrying"])
async def test_losing_the_subscription_drops_l1_until_it_is_back(
    redis_url: str, client: str
) -> None:
    # "retrying": redis-py reconnects and subscribes again on its own, so the
    # listener sees no error, only a new subscription.
    options: dict[str, Any] = {}
    if client == "retrying":
        options = {"retry": Retry(NoBackoff(), 3), "retry_on_error": [RedisConnectionError]}
    first = TieredBackend(RedisBackend(aioredis.Redis.from_url(redis_url, **options)))
    second = TieredBackend(RedisBackend(aioredis.Redis.from_url(redis_url, **options)))
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await first.get("warm-up")
        await second.get("warm-up")
        await _until_listening(first, second)
        assert await first.set("GET /k", ENTRY, ttl=60)
        assert await second.get("GET /k") is not None
        assert second.l1.get_nowait("GET /k") is not None
        # The subscriptions are cut and the entry deleted in one round trip,
        # before any listener can subscribe again: no message tells of it.
        async with admin.pipeline(transaction=False) as pipe:
            pipe.client_kill_filter(_type="pubsub")
            pipe.delete(first.l2.redis_key("GET /k"))
            killed, deleted = await pipe.execute()
        assert killed >= 2 and deleted == 1
        assert await _eventually_gone(second, "GET /k")
        await _until_listening(second)
        assert await second.get("GET /k") is None
        assert await first.set("GET /k", NEWER, ttl=60)
        found = await second.get("GET /k")
        assert found is not None and found.body == b"newer"
        assert second.l1.get_nowait("GET /k") is not None  # L1 fills again
    finally:
        await admin.aclose()
        await first.close()
        await second.close()


async def test_a_silent_subscription_counts_as_lost(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    # A connection that stops answering (a NAT or load balancer dropping it
    # without a word) must not leave L1 trusted.
    first, second = workers
    assert await first.set("GET /q", ENTRY, ttl=60)
    assert await second.get("GET /q") is not None
    assert second.l1.get_nowait("GET /q") is not None

    async def unanswered(pubsub: Any) -> None:
        return None  # the ping never reaches Redis, so nothing comes back

    second._heartbeat = 0.05
    second._ping = unanswered  # type: ignore[method-assign]
    assert await _eventually_gone(second, "GET /q")
    assert second.stats()["listener_losses"] >= 1


# --- Vary variants across the tiers (RFC 9111 section 4.1) ------------------------------


async def test_variants_travel_between_workers_and_stay_apart(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    apps = []
    calls = Calls()
    for backend in (first, second):
        router = caching_router()
        cache = FastAPICache(backend)

        @cache(ttl=60)
        @router.get("/lang")
        def lang(request: Request) -> PlainTextResponse:
            calls()
            return PlainTextResponse(
                request.headers.get("accept-language", ""), headers={"vary": "accept-language"}
            )

        apps.append(make_app(router))
    async with open_client(apps[0]) as a, open_client(apps[1]) as b:
        for language in ("en", "de"):
            assert (await a.get("/lang", headers={"accept-language": language})).text == language
        answers = []
        for _ in range(2):  # from Redis, then from the second worker's L1 (and its lane)
            for language in ("de", "en", "fr"):
                r = await b.get("/lang", headers={"accept-language": language})
                answers.append((r.text, r.headers.get("x-cache")))
    assert answers == [
        ("de", "HIT"),
        ("en", "HIT"),
        ("fr", "MISS"),
        ("de", "HIT"),
        ("en", "HIT"),
        ("fr", "HIT"),
    ]
    assert calls.count == 3
    assert second.stats()["l1_fills"] >= 2


async def test_max_variants_reaches_both_tiers(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    FastAPICache(backend, max_variants=3)
    assert (backend.max_variants, backend.l1.max_variants, backend.l2.max_variants) == (3, 3, 3)
    await backend.close()
