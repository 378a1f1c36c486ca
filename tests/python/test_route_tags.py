"""Tags (surrogate keys) and invalidation after writes (RFC 9111 section 4.4)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio


def _catalog(cache: FastAPICache, calls: Calls, **options: Any) -> Any:
    router = caching_router()

    @cache(tags=["products"], **options)
    @router.get("/products")
    def products() -> Response:
        calls()
        return PlainTextResponse(f"list{calls.count}")

    async def item_tags(request: Request) -> list[str]:
        return ["products", f"product:{request.path_params['pid']}"]

    @cache(tags=item_tags, **options)
    @router.get("/products/{pid}")
    def product(pid: str, q: str | None = None) -> Response:
        calls()
        return PlainTextResponse(f"{pid}/{q}/{calls.count}")

    @cache()
    @router.get("/other")
    def other() -> Response:
        calls()
        return PlainTextResponse(f"other{calls.count}")

    @router.put("/products/{pid}")
    def update(pid: str) -> Response:
        return PlainTextResponse("updated")

    @router.post("/products")
    def create() -> Response:
        return PlainTextResponse("created", status_code=201, headers={"location": "/products/9"})

    @router.delete("/products/{pid}")
    def delete(pid: str) -> Response:
        return PlainTextResponse("no", status_code=409)

    return router


async def _x(client: Any, path: str) -> str | None:
    return (await client.get(path)).headers.get("x-cache")


async def test_invalidate_tags_removes_every_tagged_entry(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    async with open_client(make_app(_catalog(cache, calls))) as client:
        for path in ("/products", "/products/1", "/products/1?q=x", "/products/2", "/other"):
            await client.get(path)
        assert await cache.invalidate_tags("product:1") == 2  # both query variants
        after = {p: await _x(client, p) for p in ("/products/1", "/products/2", "/products")}
        assert after == {"/products/1": "MISS", "/products/2": "HIT", "/products": "HIT"}
        assert await cache.invalidate_tags("products") >= 3
        assert await _x(client, "/products") == "MISS"
        assert await _x(client, "/other") == "HIT"  # untagged by products
    assert cache.stats()["route"]["tag_invalidations"] == 2


async def test_soft_invalidation_serves_stale_while_one_refresh_runs(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    router = _catalog(cache, calls, stale_while_revalidate=60)
    async with open_client(make_app(router)) as client:
        await client.get("/products")
        assert await cache.invalidate_tags("products", soft=True) == 1
        soft = await client.get("/products")
    assert (soft.text, soft.headers["x-cache"]) == ("list1", "STALE")


async def test_soft_invalidation_without_a_window_is_a_miss(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    async with open_client(make_app(_catalog(cache, calls))) as client:
        await client.get("/products")
        await cache.invalidate_tags("products", soft=True)
        after = await client.get("/products")
    assert after.text == "list2"


async def test_a_successful_write_invalidates_its_target(make_cache: MakeCache) -> None:
    # RFC 9111 section 4.4: "A cache MUST invalidate the target URI ... when it
    # receives a non-error status code in response to an unsafe request method".
    cache = make_cache()
    calls = Calls()
    async with open_client(make_app(_catalog(cache, calls))) as client:
        for path in ("/products/1", "/products/1?q=x", "/products/2"):
            await client.get(path)
        await client.put("/products/1")
        states = [await _x(client, p) for p in ("/products/1", "/products/1?q=x", "/products/2")]
    assert states == ["MISS", "MISS", "HIT"]
    assert cache.stats()["route"]["unsafe_invalidations"] == 1


async def test_location_of_a_write_is_invalidated_too(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    async with open_client(make_app(_catalog(cache, calls))) as client:
        await client.get("/products")
        await client.get("/products/9")
        await client.post("/products")  # 201, Location: /products/9
        states = [await _x(client, p) for p in ("/products", "/products/9")]
    assert states == ["MISS", "MISS"]


async def test_an_error_invalidates_nothing(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    async with open_client(make_app(_catalog(cache, calls))) as client:
        await client.get("/products/1")
        await client.delete("/products/1")  # 409
        state = await _x(client, "/products/1")
    assert state == "HIT"


async def test_invalidation_after_writes_can_be_turned_off(make_cache: MakeCache) -> None:
    cache = make_cache(invalidate_on_unsafe=False)
    calls = Calls()
    async with open_client(make_app(_catalog(cache, calls))) as client:
        await client.get("/products/1")
        await client.put("/products/1")
        state = await _x(client, "/products/1")
    assert state == "HIT"


async def test_entries_carry_their_path_tag_only_for_invalidation_after_writes(
    make_cache: MakeCache,
) -> None:
    # The path tag is what invalidation after writes needs; without it an
    # entry does not pay for one (its bytes in the native store's tag index).
    calls = Calls()
    states = []
    for product, invalidate_on_unsafe in ((1, True), (2, False)):
        cache = make_cache(invalidate_on_unsafe=invalidate_on_unsafe)
        async with open_client(make_app(_catalog(cache, calls))) as client:
            await client.get(f"/products/{product}")
            removed = await cache.invalidate_tags(f"path:/products/{product}")
            states.append((removed, await _x(client, f"/products/{product}")))
    assert states == [(1, "MISS"), (0, "HIT")]


async def test_tags_can_go_to_a_cdn(make_cache: MakeCache) -> None:
    cache = make_cache(tag_header="Surrogate-Key")
    calls = Calls()
    async with open_client(make_app(_catalog(cache, calls))) as client:
        miss = await client.get("/products/3")
        hit = await client.get("/products/3")
    assert miss.headers["surrogate-key"] == "products product:3"
    assert hit.headers["surrogate-key"] == "products product:3"


def test_tags_are_validated() -> None:
    cache = FastAPICache()
    with pytest.raises(TypeError, match="tags"):
        cache(tags="products")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tags"):
        cache(tags=["ok", ""])
    with pytest.raises(ValueError, match="tag_header"):
        FastAPICache(tag_header="two words")
