"""Single-flight: concurrent misses for one key run the endpoint once."""

from __future__ import annotations

import asyncio
import socket

import pytest
from conftest import MakeCache, caching_router, make_app, open_client
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from fastapi_caching_route import FastAPICache, RedisBackend

pytestmark = pytest.mark.anyio


def _slow_app(cache: FastAPICache, calls: list[str], *, seconds: float = 0.1) -> FastAPI:
    router = caching_router()

    @cache()
    @router.get("/slow")
    async def slow(q: str = "a") -> dict[str, object]:
        calls.append(q)
        await asyncio.sleep(seconds)
        return {"q": q, "call": len(calls)}

    return make_app(router)


async def test_concurrent_misses_run_the_endpoint_once(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls: list[str] = []
    async with open_client(_slow_app(cache, calls)) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(30)))
    assert calls == ["a"]
    assert all(r.status_code == 200 and r.json() == {"q": "a", "call": 1} for r in responses)
    assert sorted(r.headers["x-cache"] for r in responses) == ["HIT"] * 29 + ["MISS"]
    assert cache.stats()["route"]["coalesced"] == 29


async def test_different_keys_do_not_wait_for_each_other(make_cache: MakeCache) -> None:
    calls: list[str] = []
    async with open_client(_slow_app(make_cache(), calls)) as client:
        await asyncio.gather(*(client.get(f"/slow?q={q}") for q in "abc" * 4))
    assert sorted(calls) == ["a", "b", "c"]


async def test_coalescing_can_be_turned_off(make_cache: MakeCache) -> None:
    calls: list[str] = []
    async with open_client(_slow_app(make_cache(coalesce=False), calls)) as client:
        await asyncio.gather(*(client.get("/slow") for _ in range(5)))
    assert calls == ["a"] * 5


async def test_followers_fall_through_after_the_timeout(make_cache: MakeCache) -> None:
    cache = make_cache(coalesce_timeout=0.01)
    calls: list[str] = []
    async with open_client(_slow_app(cache, calls, seconds=0.3)) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(4)))
    assert all(r.status_code == 200 for r in responses)
    assert len(calls) == 4  # every follower gave up waiting and ran the endpoint
    assert cache.stats()["route"]["coalesce_fell_through"] == 3


@pytest.mark.parametrize("outcome", ["not stored", "raises"])
async def test_followers_run_the_endpoint_when_the_leader_stores_nothing(
    make_cache: MakeCache, outcome: str
) -> None:
    cache = make_cache()
    router = caching_router()
    calls: list[int] = []
    leading = asyncio.Event()

    @cache()
    @router.get("/flaky")
    async def flaky() -> JSONResponse:
        calls.append(1)
        first = len(calls) == 1
        leading.set()
        await asyncio.sleep(0.05)
        if first and outcome == "raises":
            raise RuntimeError("the leader fails")
        status = 503 if first else 200
        return JSONResponse({"call": len(calls)}, status_code=status)

    async with open_client(make_app(router)) as client:
        if outcome == "raises":
            # The leader's error is its own response; followers still get theirs.
            leader = asyncio.ensure_future(_get_or_error(client, "/flaky"))
            # The followers come once the leader runs the endpoint (a busy
            # machine may take longer than any fixed pause to get it there).
            await asyncio.wait_for(leading.wait(), 30)
            followers = await asyncio.gather(*(client.get("/flaky") for _ in range(3)))
            assert isinstance(await leader, RuntimeError)
        else:
            responses = await asyncio.gather(*(client.get("/flaky") for _ in range(4)))
            followers = [r for r in responses if r.status_code == 200]
            assert len(followers) == 3
    assert all(r.status_code == 200 for r in followers)
    assert len(calls) >= 2  # the followers did not get the leader's failure


async def test_followers_hits_carry_one_cache_status_member(make_cache: MakeCache) -> None:
    # RFC 9211 section 2: one member per cache. A follower's first lookup
    # missed; the hit it answers with is the only thing it reports.
    cache = make_cache(cache_status=True)
    async with open_client(_slow_app(cache, [])) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(3)))
    members = sorted(r.headers.get_list("cache-status") for r in responses)
    name = "fastapi-caching-route"
    assert (
        members == [[f"{name}; fwd=uri-miss; stored"]] + [[f"{name}; hit; ttl=2147483648"]] * 2
    )  # unbounded


def _redis_down() -> RedisBackend:
    """A RedisBackend on a loopback port nothing listens on: a real outage."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # No retries: each lookup fails at once, as behind an open circuit breaker.
    return RedisBackend.from_url(
        f"redis://127.0.0.1:{port}/0", timeout=1.0, retry=Retry(NoBackoff(), 0)
    )


async def test_followers_get_the_leaders_response_while_the_store_is_down() -> None:
    # Nothing can be read back from the store, yet concurrent misses still run
    # the endpoint once: the leader hands its followers what it stored.
    backend = _redis_down()
    cache = FastAPICache(backend)
    calls: list[str] = []
    try:
        async with open_client(_slow_app(cache, calls)) as client:
            responses = await asyncio.gather(*(client.get("/slow") for _ in range(8)))
    finally:
        await backend.close()
    assert calls == ["a"]
    assert all(r.status_code == 200 and r.json() == {"q": "a", "call": 1} for r in responses)
    route = cache.stats()["route"]
    assert (route["coalesced"], route["coalesced_from_leader"]) == (7, 7)
    assert route["lookup_errors"] == 8  # the store was down for every request


async def test_a_follower_gets_the_leaders_response_only_for_its_own_variant() -> None:
    # RFC 9111 section 4.1: the leader's response varies on Accept-Language;
    # followers that sent another value must not be handed it.
    backend = _redis_down()
    cache = FastAPICache(backend)
    router = caching_router()
    calls: list[str] = []

    @cache()
    @router.get("/greeting")
    async def greeting(request: Request) -> JSONResponse:
        # Read from the request, not declared: the language is not in the key.
        language = request.headers.get("accept-language", "en")
        calls.append(language)
        await asyncio.sleep(0.1)
        return JSONResponse({"lang": language}, headers={"vary": "accept-language"})

    languages = ["en", "de", "en", "de", "en", "de"]
    try:
        async with open_client(make_app(router)) as client:
            responses = await asyncio.gather(
                *(client.get("/greeting", headers={"accept-language": lang}) for lang in languages)
            )
    finally:
        await backend.close()
    assert [r.json()["lang"] for r in responses] == languages
    assert calls.count("en") == 1  # the leader; its two followers got its response
    assert calls.count("de") == 3  # another variant: each ran the endpoint itself


async def _get_or_error(client: object, url: str) -> object:
    try:
        return await client.get(url)  # type: ignore[attr-defined]
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf"), "1"])
def test_bad_coalesce_timeout_is_rejected(timeout: object) -> None:
    with pytest.raises((TypeError, ValueError), match="coalesce_timeout"):
        FastAPICache(coalesce_timeout=timeout)  # type: ignore[arg-type]
