"""What gets stored and replayed: the Vary merge, ``Vary: *`` and streaming bodies."""

from collections.abc import AsyncIterator, Iterator

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
from fastapi import Response
from fastapi.responses import PlainTextResponse, StreamingResponse

pytestmark = pytest.mark.anyio


def _vary_tokens(value: str) -> list[str]:
    return [token.strip() for token in value.split(",") if token.strip()]


# --- Vary -------------------------------------------------------------------------------


async def test_route_vary_headers_are_added_to_the_response(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()

    @cache(vary_headers=["Accept-Language", "X-Tenant", "accept-language"])
    @router.get("/v")
    def varied() -> str:
        return "varied"

    async with open_client(make_app(router)) as client:
        miss = await client.get("/v")
        hit = await client.get("/v")
    for response in (miss, hit):
        assert response.headers.get_list("vary") == [miss.headers["vary"]]
        assert _vary_tokens(response.headers["vary"]) == ["accept-language", "x-tenant"]
    assert hit.headers["x-cache"] == "HIT"


async def test_route_vary_headers_are_merged_with_the_endpoint_vary(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    cache = make_cache()
    router = caching_router()

    def varied() -> Response:
        return PlainTextResponse("varied", headers={"Vary": "Accept, Accept-Language"})

    cache(vary_headers=["accept-language", "X-Tenant"])(
        router.get("/v")(as_kind(endpoint_kind, varied))
    )
    async with open_client(make_app(router)) as client:
        miss = await client.get("/v")
        hit = await client.get("/v")
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    for response in (miss, hit):
        assert len(response.headers.get_list("vary")) == 1
        tokens = _vary_tokens(response.headers["vary"])
        assert [t.lower() for t in tokens] == ["accept", "accept-language", "x-tenant"]
        assert "x-tenant" in tokens  # the route's names are added lower-case
    assert hit.headers["vary"] == miss.headers["vary"]


async def test_endpoint_vary_is_kept_without_route_vary_headers(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/v")
    def varied() -> Response:
        return PlainTextResponse("varied", headers={"Vary": "Accept-Encoding"})

    async with open_client(make_app(router)) as client:
        miss = await client.get("/v")
        hit = await client.get("/v")
    assert hit.headers["x-cache"] == "HIT"
    assert [t.lower() for t in _vary_tokens(hit.headers["vary"])] == ["accept-encoding"]
    assert hit.headers["vary"] == miss.headers["vary"]


@pytest.mark.parametrize("vary", ["*", "Accept, *"])
@pytest.mark.parametrize("route_vary", [(), ("accept-language",)])
async def test_vary_star_is_not_stored(
    make_cache: MakeCache, endpoint_kind: str, vary: str, route_vary: tuple[str, ...]
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    def star() -> Response:
        calls()
        return PlainTextResponse("star", headers={"Vary": vary})

    cache(vary_headers=route_vary)(router.get("/star")(as_kind(endpoint_kind, star)))
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/star") for _ in range(3)]
    assert calls.count == 3
    for response in responses:
        assert response.text == "star"
        assert "x-cache" not in response.headers


# --- StreamingResponse ------------------------------------------------------------------

CHUNKS: list[str | bytes] = ["caf\u00e9 ", b"bytes ", "str ", b"", b"end"]
EXPECTED = "caf\u00e9 bytes str end".encode()


def _sync_chunks() -> Iterator[str | bytes]:
    yield from CHUNKS


async def _async_chunks() -> AsyncIterator[str | bytes]:
    for chunk in CHUNKS:
        yield chunk


@pytest.mark.parametrize("source", [_sync_chunks, _async_chunks])
async def test_streaming_body_is_captured_and_replayed(
    make_cache: MakeCache, endpoint_kind: str, source: object
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    def streamed() -> StreamingResponse:
        calls()
        return StreamingResponse(source(), media_type="text/plain")  # type: ignore[operator]

    cache()(router.get("/stream")(as_kind(endpoint_kind, streamed)))
    async with open_client(make_app(router)) as client:
        miss = await client.get("/stream")
        hit = await client.get("/stream")
    assert calls.count == 1
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert miss.content == EXPECTED
    assert hit.content == EXPECTED
    assert hit.headers["content-length"] == str(len(EXPECTED))
    assert hit.headers["content-type"] == miss.headers["content-type"]
    # The miss streamed before its body was known; the stored entry has its ETag.
    assert "etag" not in miss.headers
    assert hit.headers["etag"].startswith('"')


async def test_streaming_response_keeps_status_and_headers(make_cache: MakeCache) -> None:
    cache = make_cache(accepted_status_codes={203})
    router = caching_router()

    @cache()
    @router.get("/stream")
    def streamed() -> StreamingResponse:
        response = StreamingResponse(_async_chunks(), status_code=203, media_type="text/plain")
        response.headers.append("x-multi", "1")
        response.headers.append("x-multi", "2")
        return response

    async with open_client(make_app(router)) as client:
        miss = await client.get("/stream")
        hit = await client.get("/stream")
    assert miss.status_code == hit.status_code == 203
    assert hit.headers.get_list("x-multi") == ["1", "2"]
    assert hit.content == EXPECTED
    assert headers_without(hit, "x-cache", "content-length", "etag") == headers_without(
        miss, "x-cache", "content-length", "etag"
    )


async def test_streaming_hit_answers_if_none_match(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/stream")
    def streamed() -> StreamingResponse:
        return StreamingResponse(_async_chunks(), media_type="text/plain")

    async with open_client(make_app(router)) as client:
        await client.get("/stream")  # the miss streams before its ETag is known
        etag = (await client.get("/stream")).headers["etag"]
        not_modified = await client.get("/stream", headers={"if-none-match": etag})
        full = await client.get("/stream")
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert "content-length" not in not_modified.headers
    assert full.content == EXPECTED
