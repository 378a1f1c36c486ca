"""Namespaces and the cache API used on entries a route stored (or will serve)."""

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client

pytestmark = pytest.mark.anyio

# --- namespaces ------------------------------------------------------------------------


def _fixed_key_router(cache, namespace: str | None, calls: Calls):  # type: ignore[no-untyped-def]
    router = caching_router()

    @cache(key_builder=lambda request: "fixed-key", namespace=namespace)
    @router.get("/ns")
    def ns() -> str:
        calls()
        return "namespaced"

    return router


@pytest.mark.parametrize(
    ("policy", "route_namespace", "effective", "not_there"),
    [
        ("concat", "route", "root:route", "route"),
        ("replace", "route", "route", "root:route"),
        ("concat", None, None, "route"),
        ("replace", None, None, "route"),
    ],
)
async def test_effective_namespace_of_a_route(
    make_cache: MakeCache,
    policy: str,
    route_namespace: str | None,
    effective: str | None,
    not_there: str,
) -> None:
    cache = make_cache(root_namespace="root", namespace_policy=policy)
    calls = Calls()
    router = _fixed_key_router(cache, route_namespace, calls)
    async with open_client(make_app(router)) as client:
        assert (await client.get("/ns")).headers["x-cache"] == "MISS"
        stored = await cache.get_cached("fixed-key", effective)
        assert stored is not None
        assert stored["content"] == b'"namespaced"'
        assert await cache.get_cached("fixed-key", not_there) is None

        assert await cache.invalidate_cached("fixed-key", effective) == 1
        assert await cache.invalidate_cached("fixed-key", effective) == 0
        assert (await client.get("/ns")).headers["x-cache"] == "MISS"
        assert (await client.get("/ns")).headers["x-cache"] == "HIT"
    assert calls.count == 2


async def test_invalidate_cached_makes_the_next_request_a_miss(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    router = _fixed_key_router(cache, None, calls)
    async with open_client(make_app(router)) as client:
        await client.get("/ns")
        assert (await client.get("/ns")).headers["x-cache"] == "HIT"
        assert await cache.invalidate_cached("fixed-key") == 1
        assert await cache.invalidate_cached("fixed-key") == 0
        assert (await client.get("/ns")).headers["x-cache"] == "MISS"
    assert calls.count == 2


async def test_get_cached_returns_the_stored_response(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = _fixed_key_router(cache, None, Calls())
    async with open_client(make_app(router)) as client:
        assert await cache.get_cached("fixed-key") is None
        miss = await client.get("/ns")
    stored = await cache.get_cached("fixed-key")
    assert stored is not None
    # 0.6.0's keys (metadata keys of newer features may come along).
    assert {"content", "media_type", "raw_headers", "status_code"} <= set(stored)
    assert bytes(stored["content"]) == miss.content
    assert stored["status_code"] == 200
    assert stored["media_type"] == "application/json"
    headers = [(bytes(k).lower(), bytes(v)) for k, v in stored["raw_headers"]]
    assert (b"content-type", b"application/json") in headers
    assert (b"etag", miss.headers["etag"].encode()) in headers


async def test_set_cached_entry_is_served_as_a_hit(make_cache: MakeCache) -> None:
    cache = make_cache(root_namespace="root")
    calls = Calls()
    router = _fixed_key_router(cache, "route", calls)
    params = cache.prepare_cache_params({"namespace": "route"})
    stored = await cache.set_cached(
        "fixed-key",
        {
            "content": b"preset body",
            "media_type": "text/plain",
            "raw_headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", b"11"),
                (b"x-preset", b"1"),
            ],
            "status_code": 200,
        },
        params,
    )
    assert stored
    async with open_client(make_app(router)) as client:
        hit = await client.get("/ns")
    assert calls.count == 0
    assert hit.status_code == 200
    assert hit.headers["x-cache"] == "HIT"
    assert hit.content == b"preset body"
    assert hit.headers["x-preset"] == "1"
    assert hit.headers["content-type"] == "text/plain"
