"""CachingRoute request flow (mirrors _route.py): marking, hits and misses, stored
statuses, the cache-status header, preserved headers, background tasks."""

import anyio
import pytest
from conftest import (
    Calls,
    MakeCache,
    as_kind,
    caching_router,
    headers_without,
    make_app,
    open_client,
)
from fastapi import APIRouter, BackgroundTasks, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient

pytestmark = pytest.mark.anyio


# --- marking and the basic hit/miss cycle -------------------------------------------


async def test_marked_endpoint_on_plain_apiroute_router_is_not_cached(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    cache = make_cache()
    router = APIRouter()  # plain APIRoute
    calls = Calls()

    def plain() -> dict[str, int]:
        calls()
        return {"n": calls.count}

    cache()(router.get("/plain")(as_kind(endpoint_kind, plain)))
    async with open_client(make_app(router)) as client:
        first = await client.get("/plain")
        second = await client.get("/plain")
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})
    assert calls.count == 2
    for response in (first, second):
        assert "x-cache" not in response.headers
        assert "etag" not in response.headers


async def test_unmarked_endpoint_on_caching_router_is_not_cached(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    make_cache()
    router = caching_router()
    calls = Calls()

    def unmarked() -> dict[str, int]:
        calls()
        return {"n": calls.count}

    router.get("/unmarked")(as_kind(endpoint_kind, unmarked))
    async with open_client(make_app(router)) as client:
        first = await client.get("/unmarked")
        second = await client.get("/unmarked")
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})
    assert "x-cache" not in first.headers and "x-cache" not in second.headers


async def test_first_request_misses_second_hits_with_the_same_response(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    def cached() -> dict[str, object]:
        calls()
        return {"value": "hello", "n": calls.count}

    cache()(router.get("/cached")(as_kind(endpoint_kind, cached)))
    async with open_client(make_app(router)) as client:
        miss = await client.get("/cached")
        hit = await client.get("/cached")
        hit_again = await client.get("/cached")
    assert calls.count == 1
    assert miss.headers["x-cache"] == "MISS"
    assert hit.headers["x-cache"] == "HIT"
    assert hit_again.headers["x-cache"] == "HIT"
    assert hit.status_code == miss.status_code == 200
    assert hit.content == miss.content == b'{"value":"hello","n":1}'
    assert headers_without(hit, "x-cache") == headers_without(miss, "x-cache")
    assert hit.headers["content-length"] == str(len(miss.content))


def test_works_with_the_sync_testclient(make_cache: MakeCache, endpoint_kind: str) -> None:
    # 0.6.0's documented way of testing: fastapi.testclient.TestClient.
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    def cached() -> str:
        calls()
        return "sync client"

    cache()(router.get("/tc")(as_kind(endpoint_kind, cached)))
    app = make_app(router)
    close = getattr(cache.backend, "close", None)
    if close is not None:
        # The client runs the app on an event loop of its own: a backend with
        # connections closes them there, at shutdown, as an app would.
        app.router.on_shutdown.append(close)
    with TestClient(app) as client:
        miss = client.get("/tc")
        hit = client.get("/tc")
        not_modified = client.get("/tc", headers={"if-none-match": miss.headers["etag"]})
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert hit.json() == miss.json() == "sync client"
    assert not_modified.status_code == 304
    assert calls.count == 1


async def test_router_included_with_a_prefix_is_cached(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/thing")
    def thing() -> str:
        calls()
        return "thing"

    async with open_client(make_app(router, prefix="/api")) as client:
        miss = await client.get("/api/thing")
        hit = await client.get("/api/thing")
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert calls.count == 1


async def test_ttl_expires_the_entry(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(ttl=0.2)
    @router.get("/short")
    def short() -> str:
        calls()
        return "short"

    async with open_client(make_app(router)) as client:
        assert (await client.get("/short")).headers["x-cache"] == "MISS"
        assert (await client.get("/short")).headers["x-cache"] == "HIT"
        await anyio.sleep(0.5)
        assert (await client.get("/short")).headers["x-cache"] == "MISS"
    assert calls.count == 2


# --- accepted status codes and the cache-status header -------------------------------


async def test_only_200_is_stored_by_default(make_cache: MakeCache, endpoint_kind: str) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    def missing() -> JSONResponse:
        calls()
        return JSONResponse({"detail": "missing"}, status_code=404)

    cache()(router.get("/missing")(as_kind(endpoint_kind, missing)))
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/missing") for _ in range(2)]
    assert calls.count == 2
    for response in responses:
        assert response.status_code == 404
        assert "x-cache" not in response.headers


async def test_accepted_status_codes_stores_and_replays_404(make_cache: MakeCache) -> None:
    cache = make_cache(accepted_status_codes={200, 404})
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/missing")
    def missing() -> JSONResponse:
        calls()
        return JSONResponse({"detail": "missing"}, status_code=404)

    async with open_client(make_app(router)) as client:
        miss = await client.get("/missing")
        hit = await client.get("/missing")
    assert calls.count == 1
    assert (miss.status_code, miss.headers["x-cache"]) == (404, "MISS")
    assert (hit.status_code, hit.headers["x-cache"]) == (404, "HIT")
    assert hit.json() == {"detail": "missing"}


async def test_custom_cache_header_names(make_cache: MakeCache) -> None:
    cache = make_cache(cache_header="X-My-Cache", cache_header_hit="yes", cache_header_miss="no")
    router = caching_router()

    @cache()
    @router.get("/named")
    def named() -> str:
        return "named"

    async with open_client(make_app(router)) as client:
        miss = await client.get("/named")
        hit = await client.get("/named")
    assert miss.headers["x-my-cache"] == "no"
    assert hit.headers["x-my-cache"] == "yes"
    assert "x-cache" not in miss.headers and "x-cache" not in hit.headers
    assert hit.headers.get_list("x-my-cache") == ["yes"]


async def test_status_code_and_repeated_headers_are_preserved_on_hits(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    cache = make_cache(accepted_status_codes={200, 203})
    router = caching_router()
    calls = Calls()

    def multi(status: int) -> Response:
        calls()
        response = PlainTextResponse("multi", status_code=status)
        response.headers.append("x-multi", "one")
        response.raw_headers.append((b"x-multi", b"two"))
        return response

    cache()(router.get("/multi")(as_kind(endpoint_kind, multi)))
    async with open_client(make_app(router)) as client:
        for status in (200, 203):
            miss = await client.get("/multi", params={"status": status})
            hit = await client.get("/multi", params={"status": status})
            assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
            assert miss.status_code == hit.status_code == status
            assert hit.headers.get_list("x-multi") == ["one", "two"]
            assert headers_without(hit, "x-cache") == headers_without(miss, "x-cache")
            assert hit.text == "multi"
    assert calls.count == 2


async def test_background_tasks_run_on_the_miss(make_cache: MakeCache, endpoint_kind: str) -> None:
    cache = make_cache()
    router = caching_router()
    ran = Calls()

    def with_task(tasks: BackgroundTasks) -> str:
        tasks.add_task(ran)
        return "ok"

    cache()(router.get("/task")(as_kind(endpoint_kind, with_task)))
    async with open_client(make_app(router)) as client:
        miss = await client.get("/task")
        assert miss.headers["x-cache"] == "MISS"
        assert ran.count == 1
        hit = await client.get("/task")
    assert hit.headers["x-cache"] == "HIT"
    assert ran.count == 1  # the endpoint (and its tasks) did not run again
