"""Serving stale (RFC 5861): stale-while-revalidate and stale-if-error.

The route's clock (`time` inside `_plan`) is moved by hand; background
refreshes are awaited through events, never through sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import pytest
from conftest import CLOCK_START, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import HTTPException, Request, Response
from fastapi.responses import PlainTextResponse

pytestmark = pytest.mark.anyio

NOW = CLOCK_START  # the clock fixture starts here


class Endpoint:
    """GET /s: 'v<n>' with `headers`; `fail` makes it raise, `status` answer it."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.headers = headers or {}
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.status = 200
        self.done = asyncio.Event()

    def router(self, cache: Any, **options: Any) -> Any:
        router = caching_router()

        @cache(**options)
        @router.get("/s")
        async def stale(request: Request) -> Response:
            self.calls += 1
            try:
                if self.gate is not None:
                    await self.gate.wait()
                if self.fail is not None:
                    raise self.fail
                return PlainTextResponse(
                    f"v{self.calls}", status_code=self.status, headers=self.headers
                )
            finally:
                self.done.set()

        return router

    async def finished(self) -> None:
        with anyio.fail_after(10):
            await self.done.wait()
        self.done.clear()
        await asyncio.sleep(0)  # let the refresh store its answer


async def _get(client: Any) -> tuple[int, str, str | None]:
    r = await client.get("/s")
    return r.status_code, r.text, r.headers.get("x-cache")


# --- stale-while-revalidate ---------------------------------------------------------------


async def test_a_stale_answer_is_immediate_and_one_refresh_follows(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 5861 section 3: "caches MAY serve the response in which it appears
    # after it becomes stale ... the cache SHOULD attempt to revalidate it
    # while still serving stale responses".
    endpoint = Endpoint()
    cache = make_cache()
    app = make_app(endpoint.router(cache, ttl=10, stale_while_revalidate=30))
    async with open_client(app) as client:
        assert await _get(client) == (200, "v1", "MISS")
        await endpoint.finished()
        clock.now = NOW + 15
        endpoint.gate = asyncio.Event()  # the refresh waits until we let it go
        with anyio.fail_after(10):  # an answer that waited for the endpoint never comes
            stale = await _get(client)
        assert stale == (200, "v1", "STALE")
        endpoint.gate.set()
        await endpoint.finished()
        clock.now = NOW + 16
        after = await _get(client)
    assert after == (200, "v2", "HIT")
    assert endpoint.calls == 2
    with anyio.fail_after(10):  # the refresh task may still be finishing up
        while "refreshes_succeeded" not in cache.stats()["route"]:
            await asyncio.sleep(0.01)
    route = cache.stats()["route"]
    assert route["stale_answers"] == 1
    assert route["refreshes_started"] == 1
    assert route["refreshes_succeeded"] == 1


async def test_twenty_requests_in_the_window_make_one_endpoint_call(
    make_cache: MakeCache, clock: Clock
) -> None:
    endpoint = Endpoint()
    app = make_app(endpoint.router(make_cache(), ttl=10, stale_while_revalidate=30))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 15
        endpoint.gate = asyncio.Event()
        answers = await asyncio.gather(*(_get(client) for _ in range(20)))
        endpoint.gate.set()
        await endpoint.finished()
    assert all(answer == (200, "v1", "STALE") for answer in answers)
    assert endpoint.calls == 2  # the first miss, and one refresh


async def test_the_responses_own_directive_opens_the_window(
    make_cache: MakeCache, clock: Clock
) -> None:
    endpoint = Endpoint({"cache-control": "max-age=10, stale-while-revalidate=30"})
    app = make_app(endpoint.router(make_cache()))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 20
        stale = await _get(client)
        await endpoint.finished()
        clock.now = NOW + 41  # the window of the first entry is over; the refreshed one is fresh
        fresh = await _get(client)
    assert stale == (200, "v1", "STALE")
    assert fresh[1] == "v2"


async def test_after_the_window_the_request_waits_for_the_endpoint(
    make_cache: MakeCache, clock: Clock
) -> None:
    endpoint = Endpoint()
    app = make_app(endpoint.router(make_cache(), ttl=10, stale_while_revalidate=5))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 16
        late = await _get(client)
    assert late == (200, "v2", "MISS")


async def test_must_revalidate_is_never_served_stale(make_cache: MakeCache, clock: Clock) -> None:
    endpoint = Endpoint({"cache-control": "max-age=10, must-revalidate"})
    app = make_app(endpoint.router(make_cache(), stale_while_revalidate=30))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 15
        answer = await _get(client)
    assert answer[1:] == ("v2", "MISS")


async def test_a_failed_refresh_keeps_the_stale_entry_and_is_logged(
    make_cache: MakeCache, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = Endpoint()
    cache = make_cache()
    app = make_app(endpoint.router(cache, ttl=10, stale_while_revalidate=30))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 15
        endpoint.fail = RuntimeError("upstream down")
        with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
            first = await _get(client)
            await endpoint.finished()
            await asyncio.sleep(0)
        second = await _get(client)
        await endpoint.finished()
    assert first == second == (200, "v1", "STALE")
    assert cache.stats()["route"]["refreshes_failed"] >= 1
    assert "background refresh failed" in caplog.text


async def test_the_refresh_outlives_a_client_that_left(clock: Clock) -> None:
    from fastapi_caching_route import FastAPICache

    endpoint = Endpoint()
    app = make_app(endpoint.router(FastAPICache(), ttl=10, stale_while_revalidate=30))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 15
        endpoint.gate = asyncio.Event()
        with anyio.move_on_after(0.05):  # the client gives up on its request
            await client.get("/s")
        endpoint.gate.set()
        await endpoint.finished()
        clock.now = NOW + 16
        after = await _get(client)
    assert after == (200, "v2", "HIT")


# --- stale-if-error ------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["raise", "503", "500"])
async def test_stale_if_error_replaces_a_failing_endpoint(
    make_cache: MakeCache, clock: Clock, failure: Any
) -> None:
    # RFC 5861 section 4: "when an error is encountered, a cached stale
    # response MAY be used to satisfy the request".
    endpoint = Endpoint()
    cache = make_cache()
    app = make_app(endpoint.router(cache, ttl=10, stale_if_error=60))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 30
        # Made here: an exception kept at module level would keep, through its
        # traceback, every object of the app alive until the interpreter exits.
        if failure == "500":
            endpoint.status = 500
        else:
            endpoint.fail = RuntimeError("boom") if failure == "raise" else HTTPException(503)
        answer = await _get(client)
    assert answer == (200, "v1", "STALE")
    assert cache.stats()["route"]["stale_if_error_answers"] == 1


async def test_a_stale_if_error_answer_has_one_cache_status_member(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 9211 section 2.2: the stored response sent instead of the endpoint's
    # error is "fwd=stale", one member for this cache (not also a "hit").
    endpoint = Endpoint()
    app = make_app(endpoint.router(make_cache(cache_status=True), ttl=10, stale_if_error=60))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 30
        endpoint.status = 503
        answer = await client.get("/s")
    assert (answer.status_code, answer.text) == (200, "v1")
    assert answer.headers.get_list("cache-status") == [
        "fastapi-caching-route; fwd=stale; detail=error"
    ]


async def test_outside_the_window_the_error_is_the_answer(
    make_cache: MakeCache, clock: Clock
) -> None:
    endpoint = Endpoint()
    app = make_app(endpoint.router(make_cache(), ttl=10, stale_if_error=60))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 100
        endpoint.status = 500
        answer = await _get(client)
    assert answer[0] == 500


async def test_a_client_error_is_never_replaced(make_cache: MakeCache, clock: Clock) -> None:
    endpoint = Endpoint()
    app = make_app(endpoint.router(make_cache(), ttl=10, stale_if_error=60))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 30
        endpoint.fail = HTTPException(404)
        answer = await _get(client)
    assert answer[0] == 404


async def test_stale_if_error_from_the_response(make_cache: MakeCache, clock: Clock) -> None:
    endpoint = Endpoint({"cache-control": "max-age=10, stale-if-error=60"})
    app = make_app(endpoint.router(make_cache()))
    async with open_client(app) as client:
        await _get(client)
        await endpoint.finished()
        clock.now = NOW + 30
        endpoint.fail = RuntimeError("boom")
        answer = await _get(client)
    assert answer == (200, "v1", "STALE")


def test_windows_are_validated() -> None:
    from fastapi_caching_route import FastAPICache

    with pytest.raises(ValueError, match="stale_while_revalidate"):
        FastAPICache(stale_while_revalidate=-1)
    with pytest.raises(TypeError, match="stale_if_error"):
        FastAPICache()(stale_if_error="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_background_refreshes"):
        FastAPICache(max_background_refreshes=0)
