"""Compression stored once (compress=True): one body per content coding."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from fastapi_caching_route import FastAPICache
from fastapi_caching_route._compression import BROTLI

pytestmark = pytest.mark.anyio

DOCUMENT = {"items": [{"id": i, "name": f"item {i}" * 4} for i in range(200)]}


def _router(cache: FastAPICache, calls: Calls, **options: Any) -> Any:
    router = caching_router()

    @cache(**options)
    @router.get("/doc")
    def doc() -> JSONResponse:
        calls()
        return JSONResponse(DOCUMENT)

    @cache(**options)
    @router.get("/small")
    def small() -> JSONResponse:
        calls()
        return JSONResponse({"a": 1})

    return router


async def test_each_client_gets_its_coding_compressed_once(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    async with open_client(make_app(_router(cache, calls, compress=True))) as client:
        gz_miss = await client.get("/doc", headers={"accept-encoding": "gzip"})
        gz_hit = await client.get("/doc", headers={"accept-encoding": "gzip, deflate"})
        plain = await client.get("/doc", headers={"accept-encoding": "identity"})
        browser = await client.get("/doc", headers={"accept-encoding": "gzip, deflate, br"})
    assert calls.count == 1  # one endpoint call serves every coding
    for response in (gz_miss, gz_hit):
        assert response.headers["content-encoding"] == "gzip"
        assert json.loads(response.content) == DOCUMENT  # httpx decoded it
        assert "accept-encoding" in response.headers["vary"]
        assert response.headers["etag"].startswith('W/"')
    assert (gz_miss.headers["x-cache"], gz_hit.headers["x-cache"]) == ("MISS", "HIT")
    assert gz_miss.headers["etag"] == gz_hit.headers["etag"]
    assert "content-encoding" not in plain.headers
    assert plain.headers["x-cache"] == "HIT"
    assert json.loads(plain.content) == DOCUMENT
    assert plain.headers["etag"] != gz_hit.headers["etag"]  # one ETag per coding
    expected = "br" if BROTLI else "gzip"
    assert browser.headers.get("content-encoding") == expected


async def test_the_stored_gzip_body_is_real_gzip(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    app = make_app(_router(cache, calls, compress=True))
    async with (
        open_client(app) as client,
        client.stream("GET", "/doc", headers={"accept-encoding": "gzip"}) as r,
    ):
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert json.loads(gzip.decompress(raw)) == DOCUMENT
    assert int(r.headers["content-length"]) == len(raw)


async def test_small_bodies_are_not_compressed(make_cache: MakeCache) -> None:
    cache = make_cache()
    async with open_client(make_app(_router(cache, Calls(), compress=True))) as client:
        small = await client.get("/small", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_gzip_middleware_never_compresses_a_hit_again() -> None:
    cache = FastAPICache(compress=True)
    calls = Calls()
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=100)
    app.include_router(_router(cache, calls))
    async with open_client(app) as client:
        responses = [
            await client.get("/doc", headers={"accept-encoding": "gzip"}) for _ in range(3)
        ]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    assert all(r.headers["content-encoding"] == "gzip" for r in responses)  # once, not twice
    assert all(json.loads(r.content) == DOCUMENT for r in responses)
    assert calls.count == 1


async def test_off_by_default(make_cache: MakeCache) -> None:
    cache = make_cache()
    async with open_client(make_app(_router(cache, Calls()))) as client:
        response = await client.get("/doc", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
