"""Early dependencies of every callable kind are called as FastAPI calls them:
awaited when async (functions, partials, instances with ``async __call__``),
through FastAPI's solver when they yield, constructed when they are classes."""

import asyncio
import functools
import sys
from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Depends, FastAPI, Header, HTTPException, Response
from starlette.requests import HTTPConnection

pytestmark = pytest.mark.anyio


async def _statuses(make_cache: MakeCache, guard: Any, **cache_kwargs: Any) -> list[int]:
    """Statuses of a good-key, a bad-key and a second good-key request to a guarded route."""
    cache = make_cache(**cache_kwargs)
    router = caching_router()

    @cache(dependencies=[Depends(guard)])
    @router.get("/guarded")
    def guarded() -> str:
        return "body"

    async with open_client(make_app(router)) as client:
        return [
            (await client.get("/guarded", headers={"x-key": key})).status_code
            for key in ("good", "bad", "good")
        ]


def _deny_bad(x_key: str) -> None:
    if x_key != "good":
        raise HTTPException(status_code=403)


class _AsyncGuard:
    async def __call__(self, x_key: str = Header()) -> None:
        _deny_bad(x_key)


async def test_an_instance_with_async_call_is_awaited(make_cache: MakeCache) -> None:
    # Called in the thread pool instead, it would return a coroutine nobody awaits.
    assert await _statuses(make_cache, _AsyncGuard()) == [200, 403, 200]


async def _async_guard(x_key: str = Header()) -> None:
    _deny_bad(x_key)


async def test_a_partial_of_an_async_guard_is_awaited(make_cache: MakeCache) -> None:
    assert await _statuses(make_cache, functools.partial(_async_guard)) == [200, 403, 200]


class _CheckedOnConstruction:
    # FastAPI constructs a class dependency; its async __call__ is for its instances.
    def __init__(self, x_key: str = Header()) -> None:
        _deny_bad(x_key)

    async def __call__(self) -> None:  # pragma: no cover - never called here
        raise AssertionError("a class dependency is constructed, not called")


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_a_class_with_async_call_is_constructed_not_awaited(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    statuses = await _statuses(make_cache, _CheckedOnConstruction, fast_lane=fast_lane)
    assert statuses == [200, 403, 200]


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="the legacy marker ends with 3.14")
async def test_a_function_marked_as_coroutine_function_is_awaited(make_cache: MakeCache) -> None:
    # Before 3.14 asyncio (and FastAPI) honour the legacy _is_coroutine marker
    # on a plain function that returns a coroutine.
    def guard(x_key: str = Header()) -> Any:
        return _async_guard(x_key)

    guard._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    assert await _statuses(make_cache, guard) == [200, 403, 200]


@pytest.mark.parametrize("kind", ["def", "async def"])
async def test_an_instance_whose_call_yields_runs_through_fastapi(
    make_cache: MakeCache, kind: str
) -> None:
    events: list[str] = []

    class SyncSession:
        def __call__(self, x_key: str = Header()) -> Any:
            events.append("open")
            _deny_bad(x_key)
            yield
            events.append("close")

    class AsyncSession:
        async def __call__(self, x_key: str = Header()) -> Any:
            events.append("open")
            _deny_bad(x_key)
            yield
            events.append("close")

    guard = SyncSession() if kind == "def" else AsyncSession()
    assert await _statuses(make_cache, guard) == [200, 403, 200]
    assert events == ["open", "close", "open", "open", "close"]


async def test_a_guard_taking_the_http_connection_receives_it(make_cache: MakeCache) -> None:
    paths: list[str] = []

    def guard(connection: HTTPConnection) -> None:
        paths.append(connection.url.path)

    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(guard)])
    @router.get("/conn")
    def conn() -> str:
        return "body"

    async with open_client(make_app(router)) as client:
        responses = [await client.get("/conn") for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 200]
    assert paths == ["/conn", "/conn"]


async def test_a_repeated_guard_does_not_stop_the_guards_after_it(make_cache: MakeCache) -> None:
    first, last = Calls(), Calls()

    def deny() -> None:
        last()
        raise HTTPException(status_code=403)

    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(first), Depends(first), Depends(deny)])
    @router.get("/repeated")
    def repeated() -> str:
        return "body"

    async with open_client(make_app(router)) as client:
        response = await client.get("/repeated")
    assert response.status_code == 403
    assert (first.count, last.count) == (1, 1)


def _need_a(x_a: str = Header()) -> None:
    pass


def _need_b(x_b: str = Header()) -> None:
    pass


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_every_guards_validation_errors_are_reported_together(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    # As FastAPI's solver does for a route's dependencies: one guard's invalid
    # input does not hide the next guard's.
    cache = make_cache(fast_lane=fast_lane)
    router = caching_router()

    @cache(dependencies=[Depends(_need_a), Depends(_need_b)])
    @router.get("/both")
    def both() -> str:
        return "body"

    async with open_client(make_app(router)) as client:
        response = await client.get("/both")
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["header", "x-a"], ["header", "x-b"]]


def _need_key_with_response(response: Response, x_key: str = Header()) -> None:
    response.headers["x-seen"] = x_key


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_a_solved_guards_validation_errors_are_the_response(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    # A guard taking the Response goes through FastAPI's solver; its errors
    # still reach the app's handler as FastAPI's own.
    cache = make_cache(fast_lane=fast_lane)
    router = caching_router()

    @cache(dependencies=[Depends(_need_key_with_response)])
    @router.get("/solved")
    def solved() -> str:
        return "body"

    async with open_client(make_app(router)) as client:
        invalid = await client.get("/solved")
        ok = await client.get("/solved", headers={"x-key": "k"})
    assert invalid.status_code == 422
    assert [e["loc"] for e in invalid.json()["detail"]] == [["header", "x-key"]]
    assert (ok.status_code, ok.headers["x-seen"]) == (200, "k")


async def test_guards_run_on_a_router_mounted_without_override_provider(
    make_cache: MakeCache,
) -> None:
    # A mounted APIRouter's routes have no dependency_overrides_provider.
    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(_need_a)])
    @router.get("/mounted")
    def mounted() -> str:
        return "body"

    assert router.routes[0].dependency_overrides_provider is None  # type: ignore[attr-defined]
    app = FastAPI()
    app.mount("/sub", router)
    async with open_client(app) as client:
        responses = [await client.get("/sub/mounted", headers={"x-a": "1"}) for _ in range(2)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT"]
