"""Background refreshes for stale-while-revalidate (RFC 5861 section 3).

A stale answer goes out at once; one refresh per key then runs the route as a
revalidation, detached from the request that triggered it: the client leaving
does not cancel it, its failure keeps the stale entry (until the window
ends), and a cap bounds how many run at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope

# Scope items our flow adds to a request; a refresh starts without them.
_OURS = "fastapi_caching_route."
_FASTAPI_STACKS = ("fastapi_inner_astack", "fastapi_function_astack")

Revalidate = Callable[[Request], Awaitable[Response]]


class Refreshes:
    """The refreshes running for one cache: at most one per key, `limit` in all."""

    __slots__ = ("_running", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: dict[Any, asyncio.Task[None]] = {}

    def running(self, key: Any) -> bool:
        return key in self._running

    async def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the running refreshes; whether all ended."""
        tasks = list(self._running.values())
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    def start(
        self,
        key: Any,
        scope: Scope,
        revalidate: Revalidate,
        on_done: Callable[[BaseException | None], None],
    ) -> bool:
        """Start a refresh of `key` from a copy of `scope`; False when one is
        running for it already or the cap is reached."""
        if key in self._running or len(self._running) >= self.limit:
            return False
        task = asyncio.get_running_loop().create_task(_run(scope, revalidate, on_done))
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return True


async def _run(
    scope: Scope, revalidate: Revalidate, on_done: Callable[[BaseException | None], None]
) -> None:
    fresh_scope = {
        name: value
        for name, value in scope.items()
        if not name.startswith(_OURS) and name not in _FASTAPI_STACKS
    }
    fresh_scope["headers"] = list(scope["headers"])
    received = False
    sent = asyncio.Event()

    async def receive() -> Message:
        nonlocal received
        if received:
            # A client that stays until the whole response reached it: a
            # stream is not cut short (Starlette listens for a disconnect).
            await sent.wait()
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def discard(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            sent.set()

    try:
        # FastAPI's request_response provides these stacks to dependencies with yield.
        async with AsyncExitStack() as request_stack, AsyncExitStack() as function_stack:
            fresh_scope["fastapi_inner_astack"] = request_stack
            fresh_scope["fastapi_function_astack"] = function_stack
            response = await revalidate(Request(fresh_scope, receive))
            # Sent nowhere, but sent: a stream is read (and stored), background
            # tasks run, as for a request.
            await response(fresh_scope, receive, discard)
    except Exception as exc:  # the stale entry stays until its window ends
        on_done(exc)
        return
    on_done(None)
