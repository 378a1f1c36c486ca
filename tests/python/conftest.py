"""Shared fixtures: the storage backends, sync/async endpoints, app and client helpers.

Every route test runs against the native store (``FastAPICache()``), the
aiocache adapter (``FastAPICache(SimpleMemoryCache())``, the storage of
0.6.0) and Redis (``RedisBackend`` on a real ``redis-server`` started here).
"""

import inspect
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiocache import SimpleMemoryCache
from fastapi import APIRouter, FastAPI

from fastapi_caching_route import (
    CacheBackend,
    CachingRoute,
    FastAPICache,
    MemoryBackend,
    RedisBackend,
    StoredResponse,
    TieredBackend,
    _plan,
)

BACKEND_KINDS = ("memory", "aiocache", "redis")
ENDPOINT_KINDS = ("def", "async def")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=BACKEND_KINDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=ENDPOINT_KINDS)
def endpoint_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeCache = Callable[..., FastAPICache]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A throwaway ``redis-server`` on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: `make test` installs it (apt-get install redis-server)"
        )
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The server's URL, emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server


@pytest.fixture
async def tiered_workers(
    redis_url: str,
) -> AsyncIterator[tuple[FastAPICache, FastAPICache]]:
    """Two workers' caches, each a TieredBackend over the one redis-server:
    what the first (the writer) stores, the second (the reader) finds in Redis
    but not in its own L1."""
    writer = FastAPICache(TieredBackend(RedisBackend.from_url(redis_url)))
    reader = FastAPICache(TieredBackend(RedisBackend.from_url(redis_url)))
    yield writer, reader
    await writer.backend.close()
    await reader.backend.close()


@pytest.fixture
async def make_cache(
    backend_kind: str, request: pytest.FixtureRequest, anyio_backend: str
) -> AsyncIterator[MakeCache]:
    """``make_cache(root_namespace=None, **kwargs)`` -> a FastAPICache on the current backend.

    ``root_namespace`` is the backend's own namespace: ``MemoryBackend(namespace=...)``,
    ``SimpleMemoryCache(namespace=...)`` or ``RedisBackend(namespace=...)``; every other
    keyword goes to FastAPICache. Redis clients are closed after the test.
    """

    url = request.getfixturevalue("redis_url") if backend_kind == "redis" else ""
    opened: list[RedisBackend] = []

    made: list[FastAPICache] = []

    def factory(*, root_namespace: str | None = None, **kwargs: Any) -> FastAPICache:
        cache = _make(root_namespace, **kwargs)
        made.append(cache)
        return cache

    def _make(root_namespace: str | None, **kwargs: Any) -> FastAPICache:
        if backend_kind == "redis":
            # Generous timeouts: a loaded machine must not turn hits into fail-open misses.
            backend = RedisBackend.from_url(url, namespace=root_namespace, timeout=5.0)
            opened.append(backend)
            return FastAPICache(backend, **kwargs)
        if backend_kind == "memory":
            if root_namespace is None:
                return FastAPICache(**kwargs)
            return FastAPICache(MemoryBackend(namespace=root_namespace), **kwargs)
        if root_namespace is None:
            return FastAPICache(SimpleMemoryCache(), **kwargs)
        return FastAPICache(SimpleMemoryCache(namespace=root_namespace), **kwargs)

    yield factory
    for cache in made:
        # Background refreshes (stale-while-revalidate) end with their test.
        await cache.wait_for_refreshes()
    for backend in opened:
        # Idempotent: a test may have closed it on its own event loop already.
        await backend.close()


class Calls:
    """Counts calls; use as a plain callable inside an endpoint or dependency."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def as_kind(kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` itself for ``"def"``; an ``async def`` with the same signature otherwise."""
    if kind == "def":
        return fn
    assert kind == "async def", kind

    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    endpoint.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    endpoint.__name__ = fn.__name__
    endpoint.__qualname__ = fn.__qualname__
    return endpoint


def caching_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=CachingRoute, **kwargs)


def make_app(*routers: APIRouter, prefix: str = "") -> FastAPI:
    app = FastAPI()
    for router in routers:
        app.include_router(router, prefix=prefix)
    return app


@asynccontextmanager
async def open_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def headers_without(response: httpx.Response, *names: str) -> list[tuple[str, str]]:
    """The response's header list (in order, lower-case names) minus ``names``.

    ``Age`` is always left out: hits carry one computed per hit (section 4).
    """
    skip = {n.lower() for n in names} | {"age"}
    return [(k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in skip]


CLOCK_START = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


class Clock:
    """Stands in for the ``time`` module inside ``_plan`` (stored_at, Age, dates)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The route's clock, at CLOCK_START; tests move it by setting ``now``."""
    fake = Clock(CLOCK_START)
    monkeypatch.setattr(_plan, "time", fake)
    return fake


class DictBackend(CacheBackend):
    """A backend of one's own at its least: get, set, delete and clear over a
    dict, one response per key; its get() takes no ``headers`` (the route
    checks a stored response's Vary itself)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str | None, str], StoredResponse] = {}

    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:  # type: ignore[override]
        return self.entries.get((namespace, key))

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        self.entries[(namespace, key)] = value
        return True

    async def delete(self, key: str, namespace: str | None = None) -> int:
        return 1 if self.entries.pop((namespace, key), None) is not None else 0

    async def clear(self, namespace: str | None = None) -> int:
        gone = [k for k in self.entries if k[0] == namespace]
        for k in gone:
            del self.entries[k]
        return len(gone)
