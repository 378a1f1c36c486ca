"""examples/gateway.py: a caching reverse proxy that behaves as a shared cache.

The origin is a FastAPI app plugged into the gateway's httpx client; each test
tells it what to answer, as the HTTP caching conformance tests do.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import open_client
from fastapi import FastAPI, Request, Response

pytestmark = pytest.mark.anyio

GATEWAY = Path(__file__).resolve().parents[2] / "examples" / "gateway.py"


def _load_gateway() -> Any:
    spec = importlib.util.spec_from_file_location("examples_gateway", GATEWAY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gateway = _load_gateway()


class Origin:
    """Answers each path with the headers and status a test set for it."""

    def __init__(self) -> None:
        self.plans: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.app = FastAPI()

        @self.app.api_route("/{path:path}", methods=["GET", "HEAD", "POST"])
        async def answer(path: str, request: Request) -> Response:
            self.requests.append(request)
            plan = self.plans.get("/" + path, {})
            headers = dict(plan.get("headers", {}))
            etag = headers.get("etag")
            if etag and request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers=headers)
            body = f"{path}#{len(self.requests)}?{request.url.query}".encode()
            return Response(body, status_code=plan.get("status", 200), headers=headers)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path == path)


@pytest.fixture
async def proxy() -> Any:
    origin = Origin()
    app = gateway.make_gateway("http://origin", transport=httpx.ASGITransport(app=origin.app))
    async with open_client(app) as client:
        yield origin, client


async def test_fresh_responses_are_answered_by_the_gateway(proxy: Any) -> None:
    origin, client = proxy
    origin.plans["/a"] = {"headers": {"cache-control": "max-age=60"}}
    first = await client.get("/a")
    second = await client.get("/a")
    assert first.content == second.content
    assert second.headers["cache-status"].startswith("gateway; hit")
    assert origin.count("/a") == 1


async def test_the_query_is_part_of_the_key(proxy: Any) -> None:
    origin, client = proxy
    origin.plans["/q"] = {"headers": {"cache-control": "max-age=60"}}
    a = await client.get("/q?x=1")
    b = await client.get("/q?x=2")
    assert a.content != b.content
    assert origin.count("/q") == 2


async def test_stale_responses_are_revalidated_with_the_origin(proxy: Any) -> None:
    origin, client = proxy
    origin.plans["/v"] = {"headers": {"cache-control": "max-age=0", "etag": '"v1"'}}
    first = await client.get("/v")
    second = await client.get("/v")
    assert second.content == first.content  # the origin's 304 freshened the entry
    assert origin.requests[-1].headers["if-none-match"] == '"v1"'
    assert "fwd=stale; fwd-status=304" in second.headers["cache-status"]


async def test_no_explicit_freshness_is_heuristic_or_revalidated(proxy: Any) -> None:
    origin, client = proxy
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    origin.plans["/h"] = {"headers": {"last-modified": old}}
    await client.get("/h")
    second = await client.get("/h")
    assert second.headers["cache-status"].startswith("gateway; hit")  # 10 % of decades, capped


async def test_authorization_is_shared_only_when_the_origin_allows_it(proxy: Any) -> None:
    origin, client = proxy
    origin.plans["/private"] = {"headers": {"cache-control": "max-age=60"}}
    origin.plans["/public"] = {"headers": {"cache-control": "public, max-age=60"}}
    auth = {"authorization": "Bearer x"}
    for path in ("/private", "/public"):
        await client.get(path, headers=auth)
        await client.get(path, headers=auth)
    assert origin.count("/private") == 2
    assert origin.count("/public") == 1


async def test_request_no_cache_goes_to_the_origin(proxy: Any) -> None:
    origin, client = proxy
    origin.plans["/n"] = {"headers": {"cache-control": "max-age=60"}}
    await client.get("/n")
    await client.get("/n", headers={"cache-control": "no-cache"})
    assert origin.count("/n") == 2


async def test_unsafe_methods_pass_through(proxy: Any) -> None:
    origin, client = proxy
    origin.plans["/p"] = {"headers": {"cache-control": "max-age=60"}}
    await client.post("/p", content=b"x")
    await client.post("/p", content=b"x")
    assert origin.count("/p") == 2


async def test_hop_by_hop_fields_are_not_forwarded(proxy: Any) -> None:
    origin, client = proxy
    origin.plans["/hop"] = {
        "headers": {"cache-control": "max-age=60", "connection": "x-hop", "x-hop": "1"}
    }
    response = await client.get("/hop", headers={"connection": "x-secret", "x-secret": "s"})
    assert "x-hop" not in response.headers
    assert "x-secret" not in origin.requests[-1].headers
