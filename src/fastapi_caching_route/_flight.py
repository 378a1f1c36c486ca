"""Single-flight: concurrent misses for one key run the endpoint once.

The first request for a missing key leads: it runs the endpoint and stores the
response. Requests for the same key that arrive meanwhile follow: they wait
(bounded) for the leader and then answer from the cache -- or, when the store
cannot give the entry back (a Redis outage), from the entry the leader
offered it. A follower whose leader stored nothing (an error, an uncacheable
response) or took too long runs the endpoint itself, so coalescing can delay
a request but never fail it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SingleFlight:
    __slots__ = ("_leaders", "_offered", "finished")

    def __init__(self) -> None:
        # Each running leader's future: its result is the entry it offered, or None.
        self._leaders: dict[str, asyncio.Future[Any]] = {}
        self._offered: dict[str, Any] = {}
        # Leaders that have finished, ever: a request that saw this number
        # before its lookup and sees another when it comes to lead knows a
        # leader stored something meanwhile, and looks again.
        self.finished = 0

    def leader_of(self, key: str) -> asyncio.Future[Any] | None:
        """The running leader's future for ``key`` in this event loop, if any."""
        future = self._leaders.get(key)
        if future is None or future.get_loop() is not asyncio.get_running_loop():
            return None
        return future

    def offer(self, key: str, entry: Any) -> None:
        """What is being stored under ``key``: a running leader hands it to its
        followers when it ends, whether or not the store kept it."""
        if key in self._leaders:
            self._offered[key] = entry

    @contextmanager
    def lead(self, key: str) -> Iterator[None]:
        """Run the block as the leader for ``key``; followers wake when it ends."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._leaders[key] = future
        self._offered.pop(key, None)
        offered = None
        try:
            yield
        finally:
            if self._leaders.get(key) is future:
                del self._leaders[key]
                offered = self._offered.pop(key, None)
            self.finished += 1
            future.set_result(offered)


async def wait_for_leader(leader: asyncio.Future[Any], timeout: float) -> bool:
    """Whether the leader finished within ``timeout`` seconds (it is never cancelled)."""
    done, _ = await asyncio.wait({leader}, timeout=timeout)
    return bool(done)
