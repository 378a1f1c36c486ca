"""Shared fixtures: both storage backends, sync/async endpoints, app and client helpers.

Every route test runs against the native store (``FastAPICache()``) and the
aiocache adapter (``FastAPICache(SimpleMemoryCache())``), the storage of 0.6.0.
"""

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiocache import SimpleMemoryCache
from fastapi import APIRouter, FastAPI

from fastapi_caching_route import CachingRoute, FastAPICache, MemoryBackend

BACKEND_KINDS = ("memory", "aiocache")
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


@pytest.fixture
def make_cache(backend_kind: str) -> MakeCache:
    """``make_cache(root_namespace=None, **kwargs)`` -> a FastAPICache on the current backend.

    ``root_namespace`` is the backend's own namespace: ``MemoryBackend(namespace=...)``
    or ``SimpleMemoryCache(namespace=...)``; every other keyword goes to FastAPICache.
    """

    def factory(*, root_namespace: str | None = None, **kwargs: Any) -> FastAPICache:
        if backend_kind == "memory":
            if root_namespace is None:
                return FastAPICache(**kwargs)
            return FastAPICache(MemoryBackend(namespace=root_namespace), **kwargs)
        if root_namespace is None:
            return FastAPICache(SimpleMemoryCache(), **kwargs)
        return FastAPICache(SimpleMemoryCache(namespace=root_namespace), **kwargs)

    return factory


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
