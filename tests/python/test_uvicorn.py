"""Through a real uvicorn (h11 and httptools), whose HTTP implementations police
the framing: 304s without Content-Length or a body, HEAD hits without a body,
and keep-alive connections that stay in sync after both."""

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from conftest import Calls, caching_router, make_app
from fastapi.responses import PlainTextResponse, StreamingResponse

from fastapi_caching_route import FastAPICache

BODY = b"served through uvicorn " * 10
STREAMED = [b"alpha ", b"beta ", b"gamma"]
TIMEOUT = 10.0

Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers (lower-case names), body


class Server:
    """A uvicorn server on a free loopback port, in a thread."""

    def __init__(self, http: str) -> None:
        self.calls = Calls()
        self.app = self._app()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, http=http, ws="none", lifespan="off", log_level="warning",
            access_log=False, loop="asyncio", timeout_graceful_shutdown=2,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def _app(self) -> Any:
        cache = FastAPICache()
        router = caching_router()
        calls = self.calls

        @cache(ttl=60)
        @router.get("/c")
        def cached() -> PlainTextResponse:
            calls()
            return PlainTextResponse(BODY)

        async def chunks() -> Any:
            for chunk in STREAMED:
                yield chunk

        @cache(ttl=60)
        @router.get("/s")
        def streamed() -> StreamingResponse:
            calls()
            return StreamingResponse(chunks(), media_type="text/plain")

        return make_app(router)

    def start(self) -> None:
        self.thread.start()
        for _ in range(int(TIMEOUT / 0.01)):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert self.server.started, "uvicorn did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(TIMEOUT)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(TIMEOUT)
        self.sock.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"

    def connect(self) -> "Connection":
        return Connection(socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT))


class Connection:
    """One keep-alive HTTP/1.1 connection with a strict response reader."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
        self.sock.close()

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", "Host: testserver"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return self._read(method)

    def _read(self, method: str) -> Answer:
        status_line = self.reader.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        status = int(status_line.split()[1])
        headers: list[tuple[str, str]] = []
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))
        names = [name for name, _ in headers]
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, headers, b""
        if "transfer-encoding" in names:
            body = b""
            while (size := int(self.reader.readline().split(b";")[0], 16)) > 0:
                body += self.reader.read(size)
                assert self.reader.read(2) == b"\r\n"
            assert self.reader.readline() == b"\r\n"
            return status, headers, body
        length = int(dict(headers)["content-length"])
        return status, headers, self.reader.read(length)


def _get(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key == name]


@pytest.fixture(params=["h11", "httptools"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = Server(request.param)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(("path", "body"), [("/c", BODY), ("/s", b"".join(STREAMED))])
def test_miss_then_hit(server: Server, path: str, body: bytes) -> None:
    with server.connect() as conn:
        miss = conn.request("GET", path)
        hit = conn.request("GET", path)
    assert (miss[0], miss[2], _get(miss[1], "x-cache")) == (200, body, ["MISS"])
    assert (hit[0], hit[2], _get(hit[1], "x-cache")) == (200, body, ["HIT"])
    assert _get(hit[1], "content-length") == [str(len(body))]
    if path == "/s":  # a stream's miss goes out before its body, and so its ETag, is known
        assert (len(_get(hit[1], "etag")), _get(miss[1], "etag")) == (1, [])
    else:
        assert _get(hit[1], "etag") == _get(miss[1], "etag")
    assert server.calls.count == 1


@pytest.mark.parametrize("path", ["/c", "/s"])
def test_304_has_no_length_no_body_and_keeps_the_connection_in_sync(
    server: Server, path: str
) -> None:
    with server.connect() as conn:
        miss = conn.request("GET", path)
        hit = conn.request("GET", path)  # a stream's miss carries no ETag yet
        etag = _get(hit[1], "etag")[0]
        last_modified = _get(miss[1], "last-modified")[0]
        answers = [
            conn.request("GET", path, {"If-None-Match": etag}),
            conn.request("GET", path, {"If-Modified-Since": last_modified}),
            conn.request("HEAD", path, {"If-None-Match": etag}),
        ]
        after = conn.request("GET", path)  # parses only if nothing followed the 304s
    for status, headers, _ in answers:
        assert status == 304
        names = {name for name, _ in headers}
        assert "content-length" not in names
        assert "transfer-encoding" not in names
        assert "content-type" not in names
        assert _get(headers, "etag") == [etag]
        assert _get(headers, "last-modified") == [last_modified]
        assert _get(headers, "x-cache") == ["HIT"]
        assert len(_get(headers, "age")) == 1
    assert (after[0], after[2], _get(after[1], "x-cache")) == (200, miss[2], ["HIT"])
    assert server.calls.count == 1


@pytest.mark.parametrize(("path", "body"), [("/c", BODY), ("/s", b"".join(STREAMED))])
def test_head_hit_has_the_get_length_and_no_body(server: Server, path: str, body: bytes) -> None:
    with server.connect() as conn:
        head_miss = conn.request("HEAD", path)
        get = conn.request("GET", path)
        heads = [conn.request("HEAD", path) for _ in range(2)]
        after = conn.request("GET", path)  # parses only if no body followed the HEADs
    assert head_miss[0] == 200
    assert (get[2], _get(get[1], "x-cache")) == (body, ["MISS"])  # the HEAD stored nothing
    for status, headers, _ in heads:
        assert status == 200
        assert _get(headers, "content-length") == [str(len(body))]
        assert _get(headers, "x-cache") == ["HIT"]
        assert _get(headers, "etag") == _get(after[1], "etag")
    assert (after[2], _get(after[1], "x-cache")) == (body, ["HIT"])
    assert server.calls.count == 2
