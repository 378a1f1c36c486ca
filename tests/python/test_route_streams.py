"""Streams through a real uvicorn: sent as produced, stored only when complete.

SPEC section 3: "StreamingResponse bodies are captured and stored while the
client receives each chunk as it is produced; a stream that did not complete
(client gone, iterator failed) is not stored."
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from conftest import caching_router, make_app, open_client
from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from fastapi_caching_route import FastAPICache

TIMEOUT = 10.0
CHUNKS = [b"chunk-%02d;" % i for i in range(40)]


class _Stream:
    """The app's shared state: events the test and the generators meet on."""

    def __init__(self) -> None:
        self.first_sent = threading.Event()
        self.release = threading.Event()
        self.outcomes: list[str] = []
        self.calls = 0


def _app(state: _Stream) -> Any:
    cache = FastAPICache()
    router = caching_router()

    async def gated() -> AsyncIterator[bytes]:
        # Yields one chunk, then waits for the test: a cache that buffers the
        # whole stream before sending never delivers that first chunk.
        yield CHUNKS[0]
        state.first_sent.set()
        while not state.release.is_set():
            await asyncio.sleep(0.01)
        for chunk in CHUNKS[1:]:
            yield chunk

    @cache()
    @router.get("/gated")
    def gated_stream() -> StreamingResponse:
        state.calls += 1
        return StreamingResponse(gated(), media_type="text/plain")

    async def polite(request: Request) -> AsyncIterator[bytes]:
        # Stops as soon as its client is gone, as well-behaved streams do (or
        # is cancelled by Starlette, which listens for the disconnect too).
        outcome = "cancelled"
        try:
            yield CHUNKS[0]
            state.first_sent.set()
            for chunk in CHUNKS[1:]:
                while not state.release.is_set():
                    if await request.is_disconnected():
                        outcome = "ended early"
                        return
                    await asyncio.sleep(0.01)
                yield chunk
            outcome = "complete"
        finally:
            state.outcomes.append(outcome)

    @cache()
    @router.get("/polite")
    def polite_stream(request: Request) -> StreamingResponse:
        state.calls += 1
        return StreamingResponse(polite(request), media_type="text/plain")

    async def events() -> AsyncIterator[str]:
        for i in range(3):
            yield f"data: event {i}\n\n"
            if i == 0:
                state.first_sent.set()
                while not state.release.is_set():
                    await asyncio.sleep(0.01)

    @cache()
    @router.get("/events")
    def sse() -> StreamingResponse:
        state.calls += 1
        return StreamingResponse(events(), media_type="text/event-stream")

    return make_app(router)


class _Server:
    def __init__(self, http: str) -> None:
        self.state = _Stream()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            _app(self.state), http=http, ws="none", lifespan="off", log_level="critical",
            access_log=False, loop="asyncio", timeout_graceful_shutdown=2,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def start(self) -> None:
        self.thread.start()
        for _ in range(int(TIMEOUT / 0.01)):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert self.server.started

    def stop(self) -> None:
        self.state.release.set()
        self.server.should_exit = True
        self.thread.join(TIMEOUT)
        self.sock.close()

    def open(self, path: str) -> tuple[socket.socket, Any]:
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return conn, conn.makefile("rb")

    def get(self, path: str) -> tuple[dict[str, str], bytes]:
        conn, reader = self.open(path)
        with conn, reader:
            headers = _read_head(reader)
            return headers, _read_body(reader, headers)


def _read_head(reader: Any) -> dict[str, str]:
    status = reader.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _read_chunk(reader: Any) -> bytes:
    size = int(reader.readline().split(b";")[0], 16)
    data = reader.read(size) if size else b""
    reader.readline()
    return data


def _read_body(reader: Any, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return bytes(reader.read(int(headers["content-length"])))
    body = b""
    while chunk := _read_chunk(reader):
        body += chunk
    return body


@pytest.fixture(params=["h11", "httptools"])
def server(request: pytest.FixtureRequest) -> Iterator[_Server]:
    running = _Server(request.param)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_a_miss_streams_each_chunk_as_it_is_produced(server: _Server) -> None:
    conn, reader = server.open("/gated")
    with conn, reader:
        headers = _read_head(reader)
        # The generator is parked after its first chunk until we release it:
        # that chunk must already be here (0.7.0 sent nothing before the end).
        assert _read_chunk(reader) == CHUNKS[0]
        server.state.release.set()
        rest = _read_body(reader, headers)
    assert headers["x-cache"] == "MISS"
    assert CHUNKS[0] + rest == b"".join(CHUNKS)
    hit_headers, hit_body = server.get("/gated")
    assert (hit_headers["x-cache"], hit_body) == ("HIT", b"".join(CHUNKS))
    assert hit_headers["content-length"] == str(len(hit_body))
    assert server.state.calls == 1


def test_server_sent_events_arrive_before_the_stream_ends(server: _Server) -> None:
    conn, reader = server.open("/events")
    with conn, reader:
        headers = _read_head(reader)
        assert _read_chunk(reader) == b"data: event 0\n\n"
        server.state.release.set()
        rest = _read_body(reader, headers)
    assert rest == b"data: event 1\n\ndata: event 2\n\n"


def test_a_stream_whose_client_left_is_not_stored(server: _Server) -> None:
    conn, reader = server.open("/polite")
    with conn, reader:
        _read_head(reader)
        assert server.state.first_sent.wait(TIMEOUT)
    # The client is gone; the generator stops early -- normally -- or is cancelled.
    for _ in range(int(TIMEOUT / 0.01)):
        if server.state.outcomes:
            break
        threading.Event().wait(0.01)
    assert server.state.outcomes in (["ended early"], ["cancelled"])
    server.state.release.set()
    headers, body = server.get("/polite")
    assert body == b"".join(CHUNKS)  # 0.7.0 replayed the cut stream as a HIT
    assert headers["x-cache"] == "MISS"
    again_headers, again = server.get("/polite")
    assert (again_headers["x-cache"], again) == ("HIT", b"".join(CHUNKS))
    assert server.state.calls == 2


@pytest.mark.anyio
async def test_a_stream_that_ends_early_because_its_client_left_is_not_stored() -> None:
    # ASGI 2.4 servers do not make Starlette listen for the disconnect: the
    # endpoint sees it itself and ends its iterator normally, cut short.
    cache = FastAPICache()
    router = caching_router()
    gone = False

    async def cut(request: Request) -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            if await request.is_disconnected():
                return
            yield chunk

    @cache()
    @router.get("/cut")
    def cut_stream(request: Request) -> StreamingResponse:
        return StreamingResponse(cut(request), media_type="text/plain")

    app = make_app(router)

    async def call() -> tuple[bytes, dict[bytes, bytes]]:
        nonlocal gone
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1", "method": "GET", "scheme": "http", "path": "/cut",
            "raw_path": b"/cut", "root_path": "", "query_string": b"",
            "headers": [(b"host", b"t")], "client": ("127.0.0.1", 1), "server": ("t", 80),
        }  # fmt: skip
        request_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal request_sent
            if gone:
                return {"type": "http.disconnect"}
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)  # nothing more until the client leaves
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal gone
            sent.append(message)
            if len(sent) == 3 and gone is False and first[0]:
                gone = True  # the first client leaves after two chunks

        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return body, dict(sent[0]["headers"])

    first = [True]
    cut_body, _ = await call()
    first[0] = False
    gone = False
    full_body, full_headers = await call()
    again_body, again_headers = await call()
    assert cut_body == b"".join(CHUNKS[:2])
    assert (full_body, full_headers[b"x-cache"]) == (b"".join(CHUNKS), b"MISS")
    assert (again_body, again_headers[b"x-cache"]) == (b"".join(CHUNKS), b"HIT")


@pytest.mark.anyio
async def test_the_endpoints_own_background_task_runs_after_a_stored_stream() -> None:
    ran: list[str] = []
    cache = FastAPICache()
    router = caching_router()

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"a", b"b"):
            yield part

    @cache(ttl=60)
    @router.get("/with-task")
    def endpoint() -> StreamingResponse:
        return StreamingResponse(
            chunks(), media_type="text/plain", background=BackgroundTask(ran.append, "task")
        )

    async with open_client(make_app(router)) as client:
        first = await client.get("/with-task")
        second = await client.get("/with-task")
    assert (first.text, first.headers["x-cache"]) == ("ab", "MISS")
    assert (second.text, second.headers["x-cache"]) == ("ab", "HIT")
    assert ran == ["task"]  # after the stored copy, once: the hit runs no endpoint


@pytest.mark.anyio
async def test_a_stream_of_memoryviews_and_text_is_stored_as_sent() -> None:
    cache = FastAPICache()
    router = caching_router()

    async def chunks() -> AsyncIterator[Any]:
        yield memoryview(b"view,")
        yield "text,"
        yield b"bytes"

    @cache(ttl=60)
    @router.get("/mixed")
    def endpoint() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/mixed") for _ in range(2)]
    assert [(r.text, r.headers["x-cache"]) for r in answers] == [
        ("view,text,bytes", "MISS"),
        ("view,text,bytes", "HIT"),
    ]


@pytest.mark.anyio
async def test_a_stream_longer_than_max_body_bytes_in_total_is_not_stored() -> None:
    # Each chunk fits; together they do not.
    cache = FastAPICache(max_body_bytes=10)
    router = caching_router()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"123456"
        yield b"789012"

    @cache(ttl=60)
    @router.get("/long")
    def endpoint() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/long") for _ in range(2)]
    assert [r.text for r in answers] == ["123456789012"] * 2
    assert all("x-cache" not in r.headers or r.headers["x-cache"] == "MISS" for r in answers)
    assert cache.stats()["entries"] == 0
