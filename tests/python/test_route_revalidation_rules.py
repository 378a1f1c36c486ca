"""Revalidation's finer rules: which conditions the cache sends (RFC 9111
section 4.3.1), which 304 freshens a stored entry (section 4.3.3), and which
endpoint failures let a stale entry answer (RFC 5861 section 4)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CLOCK_START, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio

STORED_DATE = "Tue, 14 Nov 2023 22:00:00 GMT"
OTHER_DATE = "Tue, 14 Nov 2023 21:00:00 GMT"
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


class Origin:
    """GET /r: a 200 ('v<n>') with `last_modified` and max-age=10; while
    `not_modified` is set, a conditional request gets a 304 with those fields;
    `fail` makes it raise. Records the conditions each call carried."""

    def __init__(self, last_modified: str = STORED_DATE) -> None:
        self.last_modified = last_modified
        self.not_modified: dict[str, str] | None = None
        self.fail: Exception | None = None
        self.asked: list[dict[str, str]] = []

    def router(self, cache: Any, **options: Any) -> Any:
        router = caching_router()

        @cache(**options)
        @router.get("/r")
        def resource(request: Request) -> Response:
            self.asked.append({k: v for k, v in request.headers.items() if k.startswith("if-")})
            if self.fail is not None:
                raise self.fail
            if self.not_modified is not None and self.asked[-1]:  # a conditional request
                return Response(status_code=304, headers=self.not_modified)
            fields = {"cache-control": "max-age=10", "last-modified": self.last_modified}
            return PlainTextResponse(f"v{len(self.asked)}", headers=fields)

        return router


async def _stale_request(origin: Origin, cache: Any, clock: Clock, **headers: str) -> list[Any]:
    """Store at the clock's start, then ask twice 20 and 21 seconds later."""
    async with open_client(make_app(origin.router(cache))) as client:
        clock.now = CLOCK_START
        await client.get("/r")
        clock.now = CLOCK_START + 20
        stale = await client.get("/r", headers=headers)
        clock.now = CLOCK_START + 21
        after = await client.get("/r")
    return [stale, after]


async def test_a_304_with_the_stored_last_modified_freshens_the_entry(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 4.3.3: without an ETag, the 304's Last-Modified selects the
    # stored response that has the same one.
    origin = Origin()
    origin.not_modified = {"last-modified": STORED_DATE, "cache-control": "max-age=10"}
    stale, after = await _stale_request(origin, make_cache(), clock)
    assert (stale.status_code, stale.text) == (200, "v1")
    assert (after.text, after.headers["x-cache"]) == ("v1", "HIT")
    assert len(origin.asked) == 2


async def test_a_304_with_another_last_modified_does_not_freshen_the_entry(
    make_cache: MakeCache, clock: Clock
) -> None:
    # It selects no stored response: the cache asks again, without conditions.
    origin = Origin()
    origin.not_modified = {"last-modified": OTHER_DATE, "cache-control": "max-age=10"}
    stale, _ = await _stale_request(origin, make_cache(), clock)
    assert stale.text == "v3"
    assert origin.asked[2] == {}


async def test_a_304_without_validators_freshens_the_one_entry_asked_about(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin()
    origin.not_modified = {"cache-control": "max-age=10"}
    stale, after = await _stale_request(origin, make_cache(), clock)
    assert (stale.text, after.text, after.headers["x-cache"]) == ("v1", "v1", "HIT")
    assert len(origin.asked) == 2


async def test_the_clients_own_if_modified_since_is_forwarded_alone(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 4.3.2: the client's conditions go to the endpoint instead of the
    # cache's own validators.
    origin = Origin()
    await _stale_request(origin, make_cache(), clock, **{"if-modified-since": OTHER_DATE})
    assert origin.asked[1] == {"if-modified-since": OTHER_DATE}


async def test_a_last_modified_at_the_epoch_is_a_validator(
    make_cache: MakeCache, clock: Clock
) -> None:
    # 0 is a date (1970-01-01); only a missing Last-Modified sends none.
    origin = Origin(last_modified=EPOCH)
    await _stale_request(origin, make_cache(), clock)
    assert origin.asked[1]["if-modified-since"] == EPOCH


async def _failing_once_stale(
    make_cache: MakeCache, clock: Clock, failure: Exception
) -> tuple[Any, FastAPICache]:
    """A stored entry 20 s old (stale, within stale_if_error=60), then an
    endpoint that raises ``failure``: the answer, and the cache."""
    origin = Origin()
    cache = make_cache()
    async with open_client(make_app(origin.router(cache, stale_if_error=60))) as client:
        clock.now = CLOCK_START
        await client.get("/r")
        clock.now = CLOCK_START + 20
        origin.fail = failure
        answer = await client.get("/r")
    return answer, cache


async def test_a_500_http_exception_lets_the_stale_entry_answer(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 5861 section 4 names 500, 502, 503 and 504.
    answer, cache = await _failing_once_stale(make_cache, clock, HTTPException(500))
    assert (answer.status_code, answer.text) == (200, "v1")
    assert cache.stats()["route"]["stale_if_error_answers"] == 1


async def test_a_validation_error_is_not_answered_stale(
    make_cache: MakeCache, clock: Clock
) -> None:
    # A request the endpoint rejects is the client's error, not the server
    # failing: it gets its 422, not a stale success.
    failure = RequestValidationError([{"loc": ("query", "q"), "msg": "bad"}])
    answer, cache = await _failing_once_stale(make_cache, clock, failure)
    assert answer.status_code == 422
    assert cache.stats()["route"].get("stale_if_error_answers", 0) == 0
