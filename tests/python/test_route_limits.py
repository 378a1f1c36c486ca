"""Bounded memory and failure isolation (SPEC section 5): max_body_bytes, the key
length limit, streams that fail or lose their client, and a failing backend."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.types import Message

from fastapi_caching_route import FastAPICache
from fastapi_caching_route.backends.base import CacheBackend

pytestmark = pytest.mark.anyio

LIMIT = 64


def _stream_router(  # type: ignore[no-untyped-def]
    cache, calls: Calls, chunks: list[bytes], fail_first: bool = False, **kwargs: Any
):
    router = caching_router()

    async def generate(fail: bool) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(chunks):
            if fail and index == len(chunks) // 2:
                raise RuntimeError("the source broke mid-stream")
            yield chunk

    @cache(**kwargs)
    @router.get("/s")
    def streamed() -> StreamingResponse:
        calls()
        return StreamingResponse(generate(fail_first and calls.count == 1), media_type="text/plain")

    return router


def _plain_router(cache, calls: Calls, size: int):  # type: ignore[no-untyped-def]
    router = caching_router()

    @cache()
    @router.get("/p")
    def plain() -> Response:
        calls()
        return PlainTextResponse(b"x" * size)

    return router


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
    }  # fmt: skip


def _receiver() -> Any:
    """An empty request body, then a client that stays connected."""
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    return receive


# --- max_body_bytes ---------------------------------------------------------------------


@pytest.mark.parametrize(("size", "stored"), [(LIMIT - 1, True), (LIMIT, True), (LIMIT + 1, False)])
async def test_plain_body_limit(make_cache: MakeCache, size: int, stored: bool) -> None:
    cache = make_cache(max_body_bytes=LIMIT)
    calls = Calls()
    async with open_client(make_app(_plain_router(cache, calls, size))) as client:
        responses = [await client.get("/p") for _ in range(3)]
    assert all(r.content == b"x" * size for r in responses)
    if stored:
        assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
        assert calls.count == 1
    else:
        assert all("x-cache" not in r.headers for r in responses)
        assert calls.count == 3
        assert cache.stats()["route"]["not_stored_body_too_large"] == 3


async def test_streaming_body_over_the_limit_is_passed_through_and_not_stored(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(max_body_bytes=LIMIT)
    calls = Calls()
    chunks = [bytes([65 + i]) * 20 for i in range(10)]  # 200 bytes in 20-byte chunks
    async with open_client(make_app(_stream_router(cache, calls, chunks))) as client:
        responses = [await client.get("/s") for _ in range(3)]
    assert calls.count == 3
    for response in responses:
        assert response.status_code == 200
        assert response.content == b"".join(chunks)
        # The stream was being captured when its headers went out (MISS); it
        # could not be stored and no hit ever came.
        assert response.headers.get("x-cache") in (None, "MISS")
        assert "etag" not in response.headers
    assert cache.stats()["route"]["not_stored_body_too_large"] == 3


async def test_a_stream_over_the_limit_is_not_buffered_to_the_end(make_cache: MakeCache) -> None:
    # Once past the limit, chunks reach the client as the generator produces them.
    cache = make_cache(max_body_bytes=LIMIT)
    router = caching_router()
    sent: list[bytes] = []
    seen_by_generator: list[int] = []

    async def generate() -> AsyncIterator[bytes]:
        for i in range(20):
            seen_by_generator.append(len(sent))
            yield bytes([65 + i]) * 20

    @cache()
    @router.get("/big")
    def big() -> StreamingResponse:
        return StreamingResponse(generate(), media_type="text/plain")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            sent.append(message["body"])

    with anyio.fail_after(10):
        await make_app(router)(_scope("/big"), _receiver(), send)
    assert b"".join(sent) == b"".join(bytes([65 + i]) * 20 for i in range(20))
    assert seen_by_generator[-1] >= 10  # most of the stream was already sent


@pytest.mark.parametrize("total", [LIMIT - 4, LIMIT])
async def test_streaming_body_within_the_limit_is_stored(make_cache: MakeCache, total: int) -> None:
    calls = Calls()
    chunks = [b"y" * 4] * (total // 4)
    router = _stream_router(make_cache(max_body_bytes=LIMIT), calls, chunks)
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/s") for _ in range(3)]
    assert calls.count == 1
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    assert all(r.content == b"y" * total for r in responses)


# --- key length -------------------------------------------------------------------------


async def test_a_key_over_the_limit_bypasses_the_cache(make_cache: MakeCache) -> None:
    cache = make_cache(max_key_length=100)
    calls = Calls()
    router = caching_router()

    @cache()
    @router.get("/k/{text}")
    def keyed(text: str) -> str:
        calls()
        return text

    long_path = "/k/" + "z" * 200
    async with open_client(make_app(router)) as client:
        short = [await client.get("/k/short") for _ in range(3)]
        long = [await client.get(long_path) for _ in range(3)]
    assert [r.headers["x-cache"] for r in short] == ["MISS", "HIT", "HIT"]
    assert all(r.status_code == 200 and "x-cache" not in r.headers for r in long)
    assert calls.count == 4
    assert cache.stats()["route"]["bypass_key_too_long"] == 3


async def test_a_custom_key_over_the_limit_bypasses_the_cache(make_cache: MakeCache) -> None:
    cache = make_cache(max_key_length=16)
    calls = Calls()
    router = caching_router()

    @cache(key_builder=lambda request: request.query_params.get("k", ""))
    @router.get("/c")
    def custom() -> str:
        calls()
        return "custom"

    async with open_client(make_app(router)) as client:
        at_limit = [await client.get("/c", params={"k": "a" * 16}) for _ in range(2)]
        over = [await client.get("/c", params={"k": "a" * 17}) for _ in range(2)]
    assert [r.headers["x-cache"] for r in at_limit] == ["MISS", "HIT"]
    assert all("x-cache" not in r.headers for r in over)
    assert cache.stats()["route"]["bypass_key_too_long"] == 2
    assert calls.count == 3


def _raising_key(request: Request) -> str:
    raise ValueError("no key for this request")


def _int_key(request: Request) -> Any:
    return 42


@pytest.mark.parametrize(
    ("builder", "error"),
    [
        (_raising_key, "no key for this request"),
        (_int_key, "key_builder must return a str, got int"),
    ],
    ids=["raises", "returns-int"],
)
async def test_a_key_builder_that_fails_serves_uncached_and_says_why(
    make_cache: MakeCache,
    caplog: pytest.LogCaptureFixture,
    builder: Callable[[Request], Any],
    error: str,
) -> None:
    # The cache failing never fails the request: no key, no lookup, no store;
    # the endpoint answers and the log says what went wrong.
    cache = make_cache()
    calls = Calls()
    router = caching_router()

    @cache(key_builder=builder)
    @router.get("/k")
    def keyed() -> str:
        calls()
        return "served"

    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        async with open_client(make_app(router)) as client:
            answers = [await client.get("/k") for _ in range(2)]
    assert [(a.status_code, a.json()) for a in answers] == [(200, "served")] * 2
    assert all("x-cache" not in a.headers for a in answers)
    assert calls.count == 2
    assert cache.stats()["route"]["lookup_errors"] == 2
    records = [r for r in caplog.records if r.name == "fastapi_caching_route"]
    assert [r.getMessage() for r in records] == ["building the cache key failed; serving uncached"]
    assert records[0].exc_info is not None and str(records[0].exc_info[1]) == error


async def test_an_async_key_builder_is_awaited(make_cache: MakeCache) -> None:
    cache = make_cache()
    calls = Calls()
    router = caching_router()

    async def by_query(request: Request) -> str:
        await asyncio.sleep(0)
        return "q:" + request.query_params.get("q", "")

    @cache(key_builder=by_query)
    @router.get("/a")
    def answered(q: str = "") -> str:
        calls()
        return q

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/a", params={"q": q}) for q in ("x", "x", "y")]
    assert [(a.json(), a.headers["x-cache"]) for a in answers] == [
        ("x", "MISS"),
        ("x", "HIT"),
        ("y", "MISS"),
    ]
    assert calls.count == 2
    assert await cache.get_cached("q:x") is not None


# --- streams that fail or lose their client ---------------------------------------------


async def test_a_stream_that_raises_leaves_no_entry(make_cache: MakeCache) -> None:
    calls = Calls()
    chunks = [b"one ", b"two ", b"three ", b"four"]
    app = make_app(_stream_router(make_cache(), calls, chunks, fail_first=True))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        broken = await client.get("/s")
        responses = [await client.get("/s") for _ in range(2)]
    assert broken.status_code == 500 or broken.content != b"".join(chunks)
    assert calls.count == 2  # the broken stream stored nothing
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT"]
    assert all(r.content == b"".join(chunks) for r in responses)


async def _request_then_disconnect(app: Any, path: str) -> None:
    """One GET whose client goes away at the first body chunk."""

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            raise OSError("connection reset by peer")

    # What the app raises at a dead client is not the point here.
    with anyio.fail_after(10), contextlib.suppress(Exception):
        await app(_scope(path), receive, send)


@pytest.mark.parametrize("max_body_bytes", [LIMIT, 10_000])
async def test_a_client_that_disconnects_leaves_no_partial_entry(
    make_cache: MakeCache, max_body_bytes: int
) -> None:
    calls = Calls()
    chunks = [b"%02d" % i * 10 for i in range(10)]  # 200 bytes
    app = make_app(_stream_router(make_cache(max_body_bytes=max_body_bytes), calls, chunks))
    await _request_then_disconnect(app, "/s")
    async with open_client(app) as client:
        responses = [await client.get("/s") for _ in range(2)]
    for response in responses:
        assert response.content == b"".join(chunks)  # a stored entry, if any, is complete
    if max_body_bytes == LIMIT:
        assert calls.count == 3
        assert all(r.headers.get("x-cache") != "HIT" for r in responses)
    else:
        assert calls.count == 2  # the cut stream stored nothing; the next one was stored
        assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT"]


# --- a failing backend ------------------------------------------------------------------


class FailingBackend(CacheBackend):
    def __init__(self, synchronous: bool) -> None:
        self.synchronous = synchronous
        self.attempts = 0

    def _fail(self) -> Any:
        self.attempts += 1
        raise ConnectionError("store is down")

    def get_nowait(self, key: str, namespace: str | None = None) -> Any:
        return self._fail()

    async def get(self, key: str, namespace: str | None = None) -> Any:
        return self._fail()

    async def set(
        self, key: str, value: Any, *, namespace: str | None = None, ttl: float | None = None
    ) -> bool:
        return bool(self._fail())

    async def delete(self, key: str, namespace: str | None = None) -> int:
        return int(self._fail())

    async def clear(self, namespace: str | None = None) -> int:
        return int(self._fail())


@pytest.mark.parametrize("synchronous", [False, True], ids=["async", "synchronous"])
@pytest.mark.parametrize("fast_lane", [True, False])
async def test_a_failing_backend_serves_uncached(synchronous: bool, fast_lane: bool) -> None:
    backend = FailingBackend(synchronous)
    cache = FastAPICache(backend, fast_lane=fast_lane)
    calls = Calls()
    router = caching_router()

    @cache(ttl=60)
    @router.get("/f")
    def fragile() -> str:
        calls()
        return "still here"

    async with open_client(make_app(router)) as client:
        responses = [await client.get("/f") for _ in range(4)]
    for response in responses:
        assert (response.status_code, response.json()) == (200, "still here")
        assert response.headers.get("x-cache") != "HIT"
    assert calls.count == 4
    assert backend.attempts >= 4
