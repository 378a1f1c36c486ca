"""The fast lane never answers in front of middleware of the router itself.

The lane sits between the app's middleware and the router; a router that
wraps its own routing in middleware (``Router(middleware=...)``, or a stack
set by hand) must see every request, hits included (SPEC section 5: serve only
what routing would have chosen, through what routing would have run).
"""

from __future__ import annotations

import pytest
from conftest import Calls, caching_router, make_app, open_client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio


class RouterHeader:
    """ASGI middleware that adds ``x-router: seen`` to every response it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.requests += 1

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-router", b"seen")]
            await send(message)

        await self.app(scope, receive, send_marked)


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_router_middleware_wraps_misses_and_every_hit(fast_lane: bool) -> None:
    cache = FastAPICache(fast_lane=fast_lane)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/items")
    def items() -> dict[str, int]:
        calls()
        return {"calls": calls.count}

    app = make_app(router)
    middleware = RouterHeader(app.router.middleware_stack)
    app.router.middleware_stack = middleware
    async with open_client(app) as client:
        responses = [await client.get("/items") for _ in range(5)]
    assert calls.count == 1
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT", "HIT", "HIT"]
    assert all(r.headers.get("x-router") == "seen" for r in responses)
    assert all(r.json() == {"calls": 1} for r in responses)
    assert middleware.requests == 5
    assert app.router.middleware_stack is middleware  # nothing was put in front of it
