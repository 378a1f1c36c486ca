"""The background refresh of stale-while-revalidate (RFC 5861 section 3).

What the refresh asks the endpoint, what it counts, one refresh per key, the
cap on refreshes running at once, and an entry that is gone before its
refresh starts. The route's clock (`time` inside `_plan`) is moved by hand;
refreshes are awaited through gates and `wait_for_refreshes`, never sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import anyio
import pytest
from conftest import CLOCK_START, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.background import BackgroundTask
from starlette.types import Receive, Scope, Send

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio

NOW = CLOCK_START  # the clock fixture starts here


class Endpoint:
    """GET /s: 'v<n>' with ETag "v<n>", or a 304 to an If-None-Match naming
    the current tag when `not_modified`; records what each call was sent."""

    def __init__(self) -> None:
        self.calls = 0
        self.asked: list[str | None] = []  # each call's If-None-Match
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.not_modified = False

    def router(self, cache: FastAPICache, **options: Any) -> Any:
        router = caching_router()

        @cache(ttl=10, stale_while_revalidate=30, **options)
        @router.get("/s")
        async def stale(request: Request, k: int = 0) -> Response:  # k: one key each
            self.calls += 1
            self.asked.append(request.headers.get("if-none-match"))
            if self.gate is not None:
                await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            if self.not_modified and self.asked[-1] == f'"v{self.calls - 1}"':
                self.calls -= 1  # the same representation, still current
                return Response(status_code=304, headers={"etag": f'"v{self.calls}"'})
            return PlainTextResponse(f"v{self.calls}", headers={"etag": f'"v{self.calls}"'})

        return router


async def _get(client: Any, path: str = "/s") -> tuple[str, str | None]:
    r = await client.get(path)
    return r.text, r.headers.get("x-cache")


async def _refreshed(cache: FastAPICache) -> None:
    with anyio.fail_after(10):
        assert await cache.wait_for_refreshes()


def _route(cache: FastAPICache) -> dict[str, int]:
    return dict(cache.stats()["route"])


# --- what the refresh asks -------------------------------------------------------------------


async def test_the_refresh_revalidates_with_the_stored_validator(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 5861 section 3: the cache "SHOULD attempt to revalidate" the stale
    # response; with its ETag, the endpoint may answer 304 (RFC 9111 4.3.1).
    endpoint = Endpoint()
    endpoint.not_modified = True
    cache = make_cache()
    async with open_client(make_app(endpoint.router(cache))) as client:
        assert await _get(client) == ("v1", "MISS")
        clock.now = NOW + 15
        assert await _get(client) == ("v1", "STALE")
        await _refreshed(cache)
        clock.now = NOW + 16  # stale again but for the 304 that freshened the entry
        after = await _get(client)
    assert endpoint.asked == [None, '"v1"']
    assert after == ("v1", "HIT")
    assert _route(cache)["refreshes_succeeded"] == 1


class ClearAfterStale:
    """Empties the cache's namespace once a STALE answer went out: before the
    refresh that answer started has had its first turn on the event loop."""

    def __init__(self, app: FastAPI, cache: FastAPICache) -> None:
        self.app = app
        self.cache = cache
        self.cleared = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stale = False

        async def watch(message: Any) -> None:
            nonlocal stale
            if message["type"] == "http.response.start":
                stale = (b"x-cache", b"STALE") in message["headers"]
            await send(message)

        await self.app(scope, receive, watch)
        if stale:
            self.cleared += await self.cache.clear()


async def test_an_entry_gone_before_its_refresh_runs_is_fetched_as_a_miss(clock: Clock) -> None:
    # The refresh finds nothing to revalidate: it asks the endpoint without
    # validators and stores the answer, as for an ordinary miss. The native
    # store only: its clear() does not wait on I/O, so the refresh cannot run first.
    endpoint = Endpoint()
    endpoint.not_modified = True
    cache = FastAPICache()
    app = ClearAfterStale(make_app(endpoint.router(cache)), cache)
    async with open_client(app) as client:  # type: ignore[arg-type]
        await _get(client)
        clock.now = NOW + 15
        assert await _get(client) == ("v1", "STALE")
        await _refreshed(cache)
        after = await _get(client)
    assert app.cleared == 1
    assert cache.stats()["misses"] == 1  # the first request's: the refresh's peek counts none
    assert endpoint.asked == [None, None]  # no If-None-Match: nothing was stored
    assert after == ("v2", "HIT")
    assert _route(cache)["refreshes_succeeded"] == 1


async def test_a_response_stale_on_arrival_within_its_stale_window_is_stored(
    make_cache: MakeCache,
) -> None:
    # RFC 5861 section 3: "max-age=0, stale-while-revalidate=30" lets a cache
    # answer from the response for 30 s while it refreshes it, validator or
    # not (without one, the refresh asks for the whole response). The real
    # clock: the store keeps the entry for its stale window, by the wall clock.
    cache = make_cache()
    router = caching_router()
    calls: list[int] = []

    @cache()
    @router.get("/zero")
    async def zero() -> Response:
        calls.append(1)
        return PlainTextResponse(
            f"v{len(calls)}", headers={"cache-control": "max-age=0, stale-while-revalidate=30"}
        )

    async with open_client(make_app(router)) as client:
        first = await _get(client, "/zero")
        second = await _get(client, "/zero")
        await _refreshed(cache)
        third = await _get(client, "/zero")
        await _refreshed(cache)
    assert first == ("v1", "MISS")
    assert second == ("v1", "STALE")
    assert third == ("v2", "STALE")  # what the refresh stored, itself stale at once
    assert "not_stored_zero_lifetime" not in _route(cache)


# --- one refresh per key, and the cap ---------------------------------------------------------


async def test_stale_answers_during_a_refresh_start_no_other_and_skip_none(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 5861 section 3 asks for one revalidation, not one per stale answer;
    # a refresh already running for the key is no refresh skipped by the cap.
    endpoint = Endpoint()
    cache = make_cache()
    async with open_client(make_app(endpoint.router(cache))) as client:
        await _get(client)
        clock.now = NOW + 15
        endpoint.gate = asyncio.Event()
        answers = [await _get(client) for _ in range(3)]
        endpoint.gate.set()
        await _refreshed(cache)
    assert answers == [("v1", "STALE")] * 3
    route = _route(cache)
    assert route["refreshes_started"] == 1
    assert "refreshes_skipped" not in route
    assert endpoint.calls == 2


async def test_each_refresh_is_counted_started_and_succeeded(
    make_cache: MakeCache, clock: Clock
) -> None:
    endpoint = Endpoint()
    cache = make_cache()
    async with open_client(make_app(endpoint.router(cache))) as client:
        await _get(client)
        for now in (NOW + 15, NOW + 30):  # v2 is stored at +15, stale at +25
            clock.now = now
            assert (await _get(client))[1] == "STALE"
            await _refreshed(cache)
        after = await _get(client)
    assert after == ("v3", "HIT")
    route = _route(cache)
    assert (route["refreshes_started"], route["refreshes_succeeded"]) == (2, 2)


async def test_the_cap_skips_refreshes_beyond_it_and_counts_each(
    make_cache: MakeCache, clock: Clock
) -> None:
    # max_background_refreshes bounds the refreshes running at once; a stale
    # answer beyond it starts none (the entry is still served stale).
    endpoint = Endpoint()
    cache = make_cache(max_background_refreshes=1)
    paths = ("/s?k=1", "/s?k=2", "/s?k=3")
    async with open_client(make_app(endpoint.router(cache))) as client:
        for path in paths:
            await _get(client, path)
        clock.now = NOW + 15
        endpoint.gate = asyncio.Event()
        answers = [(await _get(client, path))[1] for path in paths]
        endpoint.gate.set()
        await _refreshed(cache)
    assert answers == ["STALE"] * 3
    route = _route(cache)
    assert (route["refreshes_started"], route["refreshes_skipped"]) == (1, 2)
    assert endpoint.calls == 4  # three misses, one refresh


async def test_a_key_can_be_refreshed_again_once_its_refresh_ended(
    make_cache: MakeCache, clock: Clock
) -> None:
    # With a cap of one, the ended refresh must leave room for the next.
    endpoint = Endpoint()
    cache = make_cache(max_background_refreshes=1)
    async with open_client(make_app(endpoint.router(cache))) as client:
        await _get(client)
        clock.now = NOW + 15
        await _get(client)
        await _refreshed(cache)
        clock.now = NOW + 30
        assert await _get(client) == ("v2", "STALE")
        await _refreshed(cache)
        after = await _get(client)
    assert after == ("v3", "HIT")
    assert "refreshes_skipped" not in _route(cache)


# --- failures -----------------------------------------------------------------------------------


async def test_each_failed_refresh_is_counted_and_logged_without_a_traceback(
    make_cache: MakeCache, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # The failure keeps the stale entry (RFC 5861 section 3 serves it "while
    # still" revalidating); the log says why in one line, no traceback.
    endpoint = Endpoint()
    cache = make_cache()
    async with open_client(make_app(endpoint.router(cache))) as client:
        await _get(client)
        clock.now = NOW + 15
        endpoint.fail = RuntimeError("upstream down")
        with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
            for _ in range(2):
                assert await _get(client) == ("v1", "STALE")
                await _refreshed(cache)
    route = _route(cache)
    assert (route["refreshes_failed"], route["refreshes_started"]) == (2, 2)
    assert "refreshes_succeeded" not in route
    records = [r for r in caplog.records if "background refresh failed" in r.getMessage()]
    assert records  # a second one within the log's interval may be suppressed
    assert all("RuntimeError('upstream down')" in r.getMessage() for r in records)
    assert not any(r.exc_info for r in records)


async def test_each_stale_if_error_answer_is_counted(make_cache: MakeCache, clock: Clock) -> None:
    # RFC 5861 section 4: past the stale-while-revalidate window but within
    # stale-if-error, a failing endpoint is answered with the stale entry.
    endpoint = Endpoint()
    cache = make_cache()
    async with open_client(make_app(endpoint.router(cache, stale_if_error=60))) as client:
        await _get(client)
        clock.now = NOW + 50
        endpoint.fail = RuntimeError("upstream down")
        answers = [await _get(client) for _ in range(2)]
    assert answers == [("v1", "STALE")] * 2
    assert _route(cache)["stale_if_error_answers"] == 2


# --- waiting for refreshes -------------------------------------------------------------------


async def test_wait_for_refreshes_tells_whether_they_ended(
    make_cache: MakeCache, clock: Clock
) -> None:
    endpoint = Endpoint()
    cache = make_cache()
    async with open_client(make_app(endpoint.router(cache))) as client:
        assert await cache.wait_for_refreshes(0.01) is True  # none running
        await _get(client)
        clock.now = NOW + 15
        endpoint.gate = asyncio.Event()
        await _get(client)
        try:
            with anyio.fail_after(10):
                held = await cache.wait_for_refreshes(0.01)  # the gate holds the refresh
        finally:
            endpoint.gate.set()  # or a failure here would leave it running
        with anyio.fail_after(10):
            ended = await cache.wait_for_refreshes()
        after = await _get(client)
    assert (held, ended) == (False, True)
    assert after == ("v2", "HIT")


# --- the refresh's own request ---------------------------------------------------------------


async def test_the_refresh_request_has_an_empty_body_and_its_client_stays_to_the_end(
    make_cache: MakeCache, clock: Clock
) -> None:
    # The refresh's request reads as an empty body; its absent client counts as
    # connected while the response is sent, and as gone once it was.
    seen: list[tuple[bytes, bool]] = []
    after_sent: list[bool] = []
    cache = make_cache()
    router = caching_router()

    @cache(ttl=10, stale_while_revalidate=30)
    @router.get("/s")
    async def read_all(request: Request) -> Response:
        async def check() -> None:
            after_sent.append(await request.is_disconnected())

        body = await request.body()
        seen.append((body, await request.is_disconnected()))
        return PlainTextResponse(f"v{len(seen)}", background=BackgroundTask(check))

    async with open_client(make_app(router)) as client:
        await _get(client)
        clock.now = NOW + 15
        assert await _get(client) == ("v1", "STALE")
        await _refreshed(cache)
        after = await _get(client)
    assert seen[1] == (b"", False)
    assert after_sent[1] is True
    assert after == ("v2", "HIT")
    assert "refreshes_failed" not in _route(cache)


async def test_a_streamed_refresh_is_read_and_stored(make_cache: MakeCache, clock: Clock) -> None:
    # Sent nowhere, the refreshed stream is still read to its end and stored:
    # Starlette cuts a stream short when its client disconnects, and the
    # refresh's client must not leave before the response was sent.
    from fastapi.responses import StreamingResponse

    calls = 0
    cache = make_cache()
    router = caching_router()

    @cache(ttl=10, stale_while_revalidate=30)
    @router.get("/s")
    async def streamed() -> StreamingResponse:
        nonlocal calls
        calls += 1

        async def parts() -> Any:
            yield b"v"
            yield str(calls).encode()

        return StreamingResponse(parts(), media_type="text/plain")

    async with open_client(make_app(router)) as client:
        await _get(client)
        clock.now = NOW + 15
        assert await _get(client) == ("v1", "STALE")
        await _refreshed(cache)
        after = await _get(client)
    assert after == ("v2", "HIT")
    assert _route(cache)["refreshes_succeeded"] == 1


async def test_the_refresh_of_a_variant_revalidates_that_variant(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 9111 section 4.1: the refresh's lookup selects the variant by the
    # triggering request's fields, as the request's own lookup did. The native
    # store drops expired variants by the wall clock, so the route's clock
    # starts at the real time here.
    start = time.time()
    clock.now = start
    asked: list[str | None] = []
    cache = make_cache()
    router = caching_router()

    @cache(ttl=10, stale_while_revalidate=30)
    @router.get("/s")
    async def by_lang(request: Request) -> Response:
        asked.append(request.headers.get("if-none-match"))
        tag = f'"v{len(asked)}"'
        return PlainTextResponse(f"v{len(asked)}", headers={"etag": tag, "vary": "x-lang"})

    fr = {"x-lang": "fr"}
    async with open_client(make_app(router)) as client:
        await client.get("/s", headers=fr)
        clock.now = start + 15
        stale = await client.get("/s", headers=fr)
        await _refreshed(cache)
    assert (stale.text, stale.headers["x-cache"]) == ("v1", "STALE")
    assert asked == [None, '"v1"']
