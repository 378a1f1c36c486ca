"""A caching gateway: a FastAPI reverse proxy cached as a shared HTTP cache.

Every request is forwarded to UPSTREAM with httpx; the catch-all route is
cached by CachingRoute with every option set the way a shared cache in front
of an origin should behave (RFC 9111): freshness from the origin's
Cache-Control / Expires / Age (heuristic when it says nothing), stale entries
revalidated with the origin's own validators, Authorization handled as
section 3.5 says, request directives honoured, Cache-Status on every answer.

Run it in front of an origin on port 8001:

    UPSTREAM=http://127.0.0.1:8001 uvicorn examples.gateway:app --port 8000 --no-date-header

(``--no-date-header``: the origin's Date is forwarded; uvicorn must not add a
second one.)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request, Response

from fastapi_caching_route import CachingRoute, FastAPICache

# RFC 9110 section 7.6.1: fields that describe one connection, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
# Statuses a shared cache may store without explicit freshness (RFC 9110
# section 15.1, "heuristically cacheable"), but 206: a partial response is
# never stored here.
HEURISTICALLY_CACHEABLE = {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def gateway_cache(**overrides: Any) -> FastAPICache:
    """A FastAPICache configured as a shared HTTP cache in front of an origin."""
    options: dict[str, Any] = {
        "accepted_status_codes": HEURISTICALLY_CACHEABLE,
        "shared_cache_freshness": True,
        "heuristic_freshness": True,
        "cache_status": True,
        "cache_status_name": "gateway",
        "fast_lane": False,
    }
    options.update(overrides)
    return FastAPICache(**options)


def gateway_key(request: Request) -> str:
    """The whole target URI is the primary key (RFC 9111 section 2); HEAD
    requests are answered from the GET entry."""
    method = "GET" if request.method == "HEAD" else request.method
    return f"{method} {request.url.path}?{request.url.query}"


def _connection_listed(headers: list[tuple[str, str]]) -> set[str]:
    listed: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            listed.update(token.strip().lower() for token in value.split(","))
    return listed


def _forwardable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    drop = HOP_BY_HOP | _connection_listed(headers)
    return [(name, value) for name, value in headers if name.lower() not in drop]


def make_gateway(
    upstream: str,
    *,
    cache: FastAPICache | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The gateway app for ``upstream`` (``transport`` lets tests plug an app in)."""
    cache = cache or gateway_cache()
    client = httpx.AsyncClient(base_url=upstream, transport=transport, timeout=30.0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    router = APIRouter(route_class=CachingRoute)

    @cache(
        key_builder=gateway_key,
        shared=True,  # one response for every client, RFC 9111 section 3.5 for Authorization
        honor_request_cache_control=True,
        cached_methods=("GET",),  # HEAD from the GET entry; other methods pass through
        set_last_modified=False,  # forward the origin's validators, invent none
    )
    @router.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
    async def proxy(path: str, request: Request) -> Response:
        headers = [
            (name, value)
            for name, value in _forwardable(request.headers.items())
            if name.lower() != "host"
        ]
        upstream_response = await client.request(
            request.method,
            "/" + path,
            params=request.query_params.multi_items(),
            headers=headers,
            content=await request.body(),
        )
        response = Response(upstream_response.content, status_code=upstream_response.status_code)
        del response.headers["content-length"]
        for name, value in _forwardable(upstream_response.headers.multi_items()):
            if name.lower() != "content-length" and name.lower() != "content-encoding":
                response.headers.append(name, value)
        response.headers["content-length"] = str(len(upstream_response.content))
        return response

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router)
    return app


app = make_gateway(os.environ.get("UPSTREAM", "http://127.0.0.1:8001"))
