"""HEAD on a cached GET route: answered from the GET entry without a body; a
HEAD miss stores nothing; routes without the marker keep FastAPI's 405."""

from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, headers_without, make_app, open_client
from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

pytestmark = pytest.mark.anyio

BODY = "a body that HEAD must not carry"


def _router(cache, calls: Calls, **kwargs: Any):  # type: ignore[no-untyped-def]
    router = caching_router()

    @cache(**kwargs)
    @router.get("/h")
    def resource() -> PlainTextResponse:
        calls()
        return PlainTextResponse(BODY, headers={"x-extra": "1"})

    return router


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_head_hit_is_answered_from_the_get_entry(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    calls = Calls()
    router = _router(make_cache(fast_lane=fast_lane), calls)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/h")
        heads = [await client.head("/h") for _ in range(3)]
        hit = await client.get("/h")
    assert calls.count == 1
    assert miss.headers["x-cache"] == "MISS"
    for head in heads:
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["x-cache"] == "HIT"
        assert head.headers["content-length"] == str(len(BODY.encode()))
        assert headers_without(head) == headers_without(hit)
    assert headers_without(hit, "x-cache") == headers_without(miss, "x-cache")
    assert hit.text == BODY


async def _raw_asgi(app: Any, method: str, path: str) -> tuple[list[Any], bytes]:
    """(the start message's headers, the body bytes) the app sends, below any client."""
    messages: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["headers"], body


async def test_head_hit_sends_no_body_bytes_at_all(make_cache: MakeCache) -> None:
    # httpx and uvicorn both drop a HEAD body; the app itself must not send one.
    app = make_app(_router(make_cache(), Calls()))
    await _raw_asgi(app, "GET", "/h")
    for _ in range(2):  # a routed hit, then a fast-lane hit
        headers, body = await _raw_asgi(app, "HEAD", "/h")
        assert body == b""
        assert (b"content-length", str(len(BODY)).encode()) in headers
        assert (b"x-cache", b"HIT") in headers


async def test_head_hit_answers_conditional_requests(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        etag = (await client.get("/h")).headers["etag"]
        matching = await client.head("/h", headers={"if-none-match": etag})
        other = await client.head("/h", headers={"if-none-match": '"nope"'})
    assert calls.count == 1
    assert (matching.status_code, matching.content) == (304, b"")
    assert "content-length" not in matching.headers
    assert (other.status_code, other.content) == (200, b"")
    assert other.headers["content-length"] == str(len(BODY))


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_head_miss_runs_the_endpoint_and_stores_nothing(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    calls = Calls()
    router = _router(make_cache(fast_lane=fast_lane), calls)
    async with open_client(make_app(router)) as client:
        first_head = await client.head("/h")
        second_head = await client.head("/h")
        get = await client.get("/h")
        hit = await client.get("/h")
    assert calls.count == 3
    for head in (first_head, second_head):
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers.get("x-cache") != "HIT"
    assert (get.headers["x-cache"], get.text) == ("MISS", BODY)
    assert (hit.headers["x-cache"], hit.text) == ("HIT", BODY)


async def test_head_miss_on_a_streaming_get_stores_nothing(make_cache: MakeCache) -> None:
    calls = Calls()
    cache = make_cache()
    router = caching_router()

    async def chunks() -> Any:
        yield b"stream"
        yield b"ed"

    @cache()
    @router.get("/s")
    def streamed() -> StreamingResponse:
        calls()
        return StreamingResponse(chunks(), media_type="text/plain")

    async with open_client(make_app(router)) as client:
        head = await client.head("/s")
        get = await client.get("/s")
        head_hit = await client.head("/s")
    assert head.content == b""
    assert (get.headers["x-cache"], get.content) == ("MISS", b"streamed")
    assert (head_hit.headers["x-cache"], head_hit.content) == ("HIT", b"")
    assert head_hit.headers["content-length"] == "8"
    assert calls.count == 2


async def test_head_on_a_prefixed_included_router(make_cache: MakeCache) -> None:
    calls = Calls()
    inner = _router(make_cache(), calls)
    outer = APIRouter(prefix="/outer")
    outer.include_router(inner, prefix="/inner")
    app = make_app(outer, prefix="/api")
    async with open_client(app) as client:
        miss = await client.get("/api/outer/inner/h")
        heads = [await client.head("/api/outer/inner/h") for _ in range(3)]
        wrong_path = await client.head("/outer/inner/h")
    assert miss.headers["x-cache"] == "MISS"
    for head in heads:
        assert (head.status_code, head.content, head.headers["x-cache"]) == (200, b"", "HIT")
        assert head.headers["content-length"] == str(len(BODY))
    assert wrong_path.status_code == 404
    assert calls.count == 1


async def test_head_on_an_uncached_get_route_is_405_as_in_fastapi(make_cache: MakeCache) -> None:
    cache = make_cache()
    plain = FastAPI()

    @plain.get("/unmarked")
    def plain_unmarked() -> str:
        return "x"

    caching = caching_router()

    @caching.get("/unmarked")
    def unmarked() -> str:
        return "x"

    apiroute = APIRouter()  # marked, but not a CachingRoute: not cached at all

    @cache()
    @apiroute.get("/marked")
    def marked() -> str:
        return "x"

    async with open_client(plain) as client:
        reference = await client.head("/unmarked")
    async with open_client(make_app(caching, apiroute)) as client:
        unmarked_head = await client.head("/unmarked")
        marked_head = await client.head("/marked")
    assert reference.status_code == 405
    for response in (unmarked_head, marked_head):
        assert response.status_code == reference.status_code
        assert response.headers.get("allow") == reference.headers.get("allow")


@pytest.mark.parametrize("head_first", [True, False])
async def test_an_explicit_head_route_keeps_answering_head(
    make_cache: MakeCache, head_first: bool
) -> None:
    # An unmarked endpoint on a CachingRoute router behaves as on APIRoute: a
    # HEAD route declared for the path keeps answering HEAD, whatever the
    # order of declaration and whether the GET is cached.
    cache = make_cache()
    router = caching_router()
    get_calls, head_calls = Calls(), Calls()

    def get_both() -> str:
        get_calls()
        return "get"

    def head_both() -> PlainTextResponse:
        head_calls()
        return PlainTextResponse("", headers={"x-own-head": "yes"})

    if head_first:
        router.head("/both")(head_both)
    cache()(router.get("/both")(get_both))
    if not head_first:
        router.head("/both")(head_both)

    async with open_client(make_app(router)) as client:
        before = await client.head("/both")
        await client.get("/both")
        after = [await client.head("/both") for _ in range(2)]
    for head in (before, *after):
        assert head.status_code == 200
        assert head.headers.get("x-own-head") == "yes"
    assert (head_calls.count, get_calls.count) == (3, 1)
