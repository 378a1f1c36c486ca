"""No byte in any request field can make the cache fail a request (SPEC section 5).

Header values are bytes (Latin-1 at best, RFC 9110 section 5.5 calls bytes
>= 0x80 obs-text), paths may hold lone surrogates when a server decodes them
so: the key must represent all of it, and a key that cannot be built is a
failed lookup, served uncached -- never a 500.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from conftest import Calls, caching_router, make_app
from fastapi import APIRouter, Cookie, FastAPI, Header, Request
from fastapi.responses import PlainTextResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastapi_caching_route import FastAPICache

TIMEOUT = 10.0


def _routes(router: APIRouter, cache: FastAPICache | None, calls: Calls) -> None:
    mark = cache(vary_headers=["accept-language"]) if cache else (lambda f: f)

    @mark
    @router.get("/vary")
    def vary(request: Request) -> PlainTextResponse:
        calls()
        return PlainTextResponse("vary", headers={"vary": "x-variant"})

    mark = cache() if cache else (lambda f: f)

    @mark
    @router.get("/declared/{name}")
    def declared(
        name: str, x_token: str | None = Header(None), session: str | None = Cookie(None)
    ) -> PlainTextResponse:
        calls()
        return PlainTextResponse(f"{len(name)}:{len(x_token or '')}:{len(session or '')}")


def _apps() -> tuple[FastAPI, FastAPI, Calls]:
    calls = Calls()
    cached = caching_router()
    _routes(cached, FastAPICache(), calls)
    plain = APIRouter()
    _routes(plain, None, Calls())
    return make_app(cached), make_app(plain), calls


# --- through uvicorn: the bytes a client really sends ------------------------------------


class _Server:
    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, http="httptools", ws="none", lifespan="off", log_level="critical",
            access_log=False, loop="asyncio", timeout_graceful_shutdown=2,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> _Server:
        self.thread.start()
        for _ in range(int(TIMEOUT / 0.01)):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert self.server.started
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(TIMEOUT)
        self.sock.close()

    def raw(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as conn:
            conn.sendall(request)
            reader = conn.makefile("rb")
            status = int(reader.readline().split()[1])
            headers: dict[str, str] = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0")))
            return status, headers, body


@pytest.fixture
def served() -> Iterator[tuple[_Server, Calls]]:
    cached, _, calls = _apps()
    with _Server(cached) as server:
        yield server, calls


def _request(path: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + path + b" HTTP/1.1", b"Host: testserver", b"Connection: close", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_latin1_bytes_in_a_varied_header(served: tuple[_Server, Calls]) -> None:
    server, calls = served
    request = _request(b"/vary", b"Accept-Language: caf\xe9", b"X-Variant: \xff\xfe")
    first = server.raw(request)
    second = server.raw(request)
    other = server.raw(_request(b"/vary", b"Accept-Language: caf\xc3\xa9", b"X-Variant: \xff\xfe"))
    assert (first[0], first[1].get("x-cache")) == (200, "MISS")  # 0.7.0: 500
    assert (second[0], second[1].get("x-cache")) == (200, "HIT")
    assert (other[0], other[1].get("x-cache")) == (200, "MISS")  # UTF-8 is another value
    assert calls.count == 2


def test_high_bytes_in_declared_headers_and_cookies(served: tuple[_Server, Calls]) -> None:
    server, _ = served
    request = _request(b"/declared/caf%C3%A9", b"X-Token: \x80\x81", b"Cookie: session=\xe9\xe9")
    answers = [server.raw(request) for _ in range(2)]
    assert [(a[0], a[1].get("x-cache"), a[2]) for a in answers] == [
        (200, "MISS", b"4:2:2"),
        (200, "HIT", b"4:2:2"),
    ]


def test_percent_escaped_invalid_utf8_in_the_path(served: tuple[_Server, Calls]) -> None:
    server, _ = served
    answers = [server.raw(_request(b"/declared/%FF%C0")) for _ in range(2)]
    assert [(a[0], a[1].get("x-cache")) for a in answers] == [(200, "MISS"), (200, "HIT")]


# --- in process: whatever an ASGI server may put in the scope ---------------------------


async def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.anyio
async def test_a_path_with_a_lone_surrogate_is_answered_as_plain_fastapi_answers() -> None:
    cached, plain, _ = _apps()
    for path in ("/declared/\udcff", "/declared/a\ud800b", "/vary\udce9"):
        expected = await _call(plain, path, [])
        for _ in range(2):
            assert await _call(cached, path, []) == expected, path
    assert (await _call(cached, "/declared/\udcff", []))[0] == 200


header_names = st.sampled_from(
    [b"accept-language", b"x-variant", b"x-token", b"cookie", b"authorization", b"x-other"]
)
path_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(["\udcff", "\ud800"]),
    max_size=12,
)


@pytest.mark.anyio
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=st.sampled_from(["/vary", "/declared/"]),
    suffix=path_text,
    headers=st.lists(st.tuples(header_names, st.binary(max_size=24)), max_size=5),
)
async def test_any_bytes_anywhere_never_fail_the_request(
    route: str, suffix: str, headers: list[tuple[bytes, bytes]]
) -> None:
    cached, plain, _ = _apps()
    path = route + (suffix if route.endswith("/") else "")
    expected = await _call(plain, path, headers)
    for _ in range(2):  # a miss, then a hit or a bypass
        status, body = await _call(cached, path, headers)
        assert status != 500
        assert (status, body) == expected
