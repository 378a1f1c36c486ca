"""Memory in front of Redis: in-process hits, one shared store, invalidations for all.

Every worker keeps a bounded in-process tier (L1, the native store) in front of
the shared Redis tier (L2). Hits on L1 cost what a memory-store hit costs; an
L1 miss asks L2 and keeps what it finds. Invalidations (delete, clear) are
published on a Redis channel and applied to the L1 of every worker listening.

How L1 stays consistent with the invalidations:

- A read from Redis fills L1 only if no invalidation (nor store) of its key or
  namespace reached this worker while it was in flight, and only if the worker
  was subscribed to the channel the whole time; the read still answers the
  request that made it (it began before the invalidation).
- When the subscription is lost (an error, a reconnection, two pings without an
  answer) L1 is dropped, and it is dropped again when the listener is
  subscribed anew, since messages sent meanwhile were missed. Until then no read
  fills L1, and this worker's own responses stay in it for one second at most.
- An invalidation Redis does not take (down, timeout, open circuit breaker) is
  applied to this worker's L1 at once and the call returns normally; the
  Redis delete and the message are sent again in the background until Redis
  takes them, and meanwhile this worker does not read the invalidated entries
  from Redis.
- ``set`` stores the response it is given. As with any cache-aside store, a
  response computed before an invalidation and stored after it is kept (in
  both tiers); ``l1_ttl`` and the route's ttl bound it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from .. import _core
from .._entry import StoredResponse
from .._log import RateLimitedLog
from .base import CacheBackend, RequestHeaders
from .memory import MemoryBackend
from .redis import RedisBackend

logger = logging.getLogger("fastapi_caching_route")

_CLEAR = "*"  # the key of a namespace clear, in messages and pending invalidations

_Target = tuple[str, str]  # (namespace name, key or _CLEAR)


class _Read:
    """A Redis read in flight: whether its answer may still go into L1."""

    __slots__ = ("fill",)

    def __init__(self, fill: bool) -> None:
        self.fill = fill


class _SharedTierUnavailable(Exception):
    """The circuit breaker of L2 is open: Redis is not asked."""


class _ListenerSilent(Exception):
    """The subscription's connection answers nothing, not even pings."""


class TieredBackend(CacheBackend):
    """L1 :class:`MemoryBackend` per worker in front of a shared :class:`RedisBackend`.

    ```py
    cache = FastAPICache(TieredBackend(RedisBackend.from_url("redis://cache:6379/0")))
    ```
    The listener for invalidations starts with the first request; call
    :meth:`close` on shutdown.

    The guarantee: no L1 fill brings back an entry invalidated after its
    Redis read began, and a worker that may have missed an invalidation (its
    subscription lost, or not made yet) drops its L1 and fills none from Redis
    until it is subscribed again.
    """

    # Its lookups may wait on Redis (so it is not `synchronous`); its hit path
    # answers from L1, and an L1 miss still asks get().
    lookup_after_native_miss = True

    # Seconds. An idle listener pings Redis this often; two pings without an
    # answer mean the connection is lost.
    _heartbeat = 1.0
    # The longest L1 keeps this worker's own responses while not subscribed.
    _suspect_ttl = 1.0
    # Pause before subscribing again after the listener failed.
    _reconnect_delay = 1.0
    # Pause between attempts to send invalidations Redis did not take.
    _retry_delay = 1.0
    # Pending invalidations beyond this many become clears of their namespaces.
    _retry_limit = 10_000

    def __init__(
        self,
        l2: RedisBackend,
        *,
        l1: MemoryBackend | None = None,
        l1_ttl: float = 60.0,
        channel: str = "fcr:invalidations",
    ) -> None:
        if not isinstance(l2, RedisBackend):
            raise TypeError("l2 must be a RedisBackend")
        if not l1_ttl > 0:
            raise ValueError(f"l1_ttl must be positive, got {l1_ttl!r}")
        self.l2 = l2
        self.l1 = l1 if l1 is not None else MemoryBackend(max_bytes=64 * 1024 * 1024)
        self.l1.namespace = l2.namespace
        self.namespace = l2.namespace
        self.l1_ttl = float(l1_ttl)
        self.channel = channel
        self._origin = uuid.uuid4().hex  # to tell our own messages apart
        self._listener: asyncio.Task[None] | None = None
        self._retrier: asyncio.Task[None] | None = None
        self._closed = False
        self._listening = False  # subscribed: invalidations from other workers reach L1
        self._reads: dict[_Target, list[_Read]] = {}  # Redis reads in flight
        self._invalidating: dict[_Target, int] = {}  # invalidations being sent to Redis
        self._unsent: dict[_Target, int] = {}  # not taken by Redis: target -> serial
        self._serial = 0
        self._log = RateLimitedLog()
        self._counters = {
            "l1_fills": 0,
            "l1_fills_withheld": 0,
            "invalidations_received": 0,
            "invalidations_deferred": 0,
            "invalidations_resent": 0,
            "listener_losses": 0,
            "l2_store_errors": 0,
        }

    @property
    def listening(self) -> bool:
        """Whether this worker is subscribed to invalidations, so that L1 is used fully."""
        return self._listening

    @property
    def max_variants(self) -> int:
        """Responses kept per key when they carry Vary, in both tiers."""
        return self.l2.max_variants

    @max_variants.setter
    def max_variants(self, value: int) -> None:
        self.l1.max_variants = self.l2.max_variants = value

    def hit_path(
        self,
        namespace: str | None,
        key_spec: _core.KeySpec,
        hit_header: tuple[bytes, bytes],
        **options: Any,
    ) -> _core.HitPath:
        """L1's one-call hit path (an L1 miss then asks :meth:`get`)."""
        self._ensure_listener()
        return self.l1.hit_path(namespace, key_spec, hit_header, **options)

    def get_nowait(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        """The in-process tier only (Redis is asked by :meth:`get`)."""
        return self.l1.get_nowait(key, namespace, headers=headers)

    async def get(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        self._ensure_listener()
        entry = self.l1.get_nowait(key, namespace, headers=headers)
        if entry is not None:
            return entry
        target = (self._name(namespace), key)
        if (self._invalidating or self._unsent) and self._unsettled(target):
            return None  # invalidated here and not yet in Redis: what Redis holds is old
        read = _Read(self._listening)
        reads = self._reads.setdefault(target, [])
        reads.append(read)
        try:
            entry = await self.l2.get(key, namespace, headers=headers)
        finally:
            reads.remove(read)
            if not reads and self._reads.get(target) is reads:
                del self._reads[target]
        if entry is not None:
            if read.fill:
                self.l1.set_nowait(key, entry, namespace=namespace, ttl=self._l1_ttl_for(entry))
                self._counters["l1_fills"] += 1
            else:
                self._counters["l1_fills_withheld"] += 1
        return entry

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        self._ensure_listener()
        # A read of this key still in flight began before this store: its
        # answer must not replace this one in L1.
        self._withhold((self._name(namespace), key))
        l1_ttl = min(ttl or self.l1_ttl, self.l1_ttl)
        if not self._listening:
            l1_ttl = min(l1_ttl, self._suspect_ttl)
        stored = self.l1.set_nowait(key, value, namespace=namespace, ttl=l1_ttl)
        try:
            shared = await self.l2.set(key, value, namespace=namespace, ttl=ttl)
        except Exception:  # L1 still serves this worker; the route must not fail
            self._counters["l2_store_errors"] += 1
            logger.debug("storing in the shared tier failed", exc_info=True)
            shared = False
        return stored or shared

    async def delete(self, key: str, namespace: str | None = None) -> int:
        """Remove ``key`` from this worker's L1, from Redis and from every
        worker's L1. If Redis does not take it, the local removal stands, the
        rest is retried in the background, and the count is this worker's."""
        self._ensure_listener()
        return await self._invalidate((self._name(namespace), key))

    async def clear(self, namespace: str | None = None) -> int:
        """Remove a namespace everywhere; Redis failing is handled as in :meth:`delete`."""
        self._ensure_listener()
        return await self._invalidate((self._name(namespace), _CLEAR))

    def stats(self) -> dict[str, Any]:
        return {
            **self.l1.stats(),
            "l2": self.l2.stats(),
            **self._counters,
            "invalidations_pending": len(self._unsent),
            "listening": self._listening,
        }

    async def close(self) -> None:
        """Stop listening for invalidations, send those Redis has not taken
        yet if it takes them now, and close the Redis client."""
        self._closed = True
        listener, self._listener = self._listener, None
        retrier, self._retrier = self._retrier, None
        await _stop(listener)
        await _stop(retrier)
        if self._unsent:
            await self._resend_pending()
        if self._unsent:
            logger.warning(
                "%d cache invalidation(s) could not be sent to Redis before closing: "
                "other workers may serve the invalidated entries for up to l1_ttl",
                len(self._unsent),
            )
        await self.l2.close()

    # -- invalidations sent ---------------------------------------------------

    async def _invalidate(self, target: _Target) -> int:
        removed = await self._drop(target)
        start = self._next_serial()
        self._invalidating[target] = self._invalidating.get(target, 0) + 1
        try:
            removed = max(removed, await self._send(target))
        except asyncio.CancelledError:
            self._defer(target)
            raise
        except Exception:
            self._defer(target)
            self._log.warning(
                "invalidation_deferred",
                "the shared tier did not take a cache invalidation: applied to this "
                "worker's L1, sent again in the background",
            )
        else:
            self._sent(target, start)
        finally:
            left = self._invalidating[target] - 1
            if left:
                self._invalidating[target] = left
            else:
                del self._invalidating[target]
        return removed

    async def _send(self, target: _Target) -> int:
        """Applies an invalidation to Redis and tells the other workers."""
        if not self.l2.breaker.allows():
            raise _SharedTierUnavailable("the shared tier's circuit breaker is open")
        name, key = target
        if key == _CLEAR:
            removed = await self.l2.clear(name)
        else:
            removed = await self.l2.delete(key, name)
        message = json.dumps({"origin": self._origin, "namespace": name, "key": key})
        await self.l2.client.publish(self.channel, message)
        return removed

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _unsettled(self, target: _Target) -> bool:
        whole = (target[0], _CLEAR)
        return (
            target in self._invalidating
            or target in self._unsent
            or whole in self._invalidating
            or whole in self._unsent
        )

    def _defer(self, target: _Target) -> None:
        self._counters["invalidations_deferred"] += 1
        if target[1] == _CLEAR:  # it covers what is pending in its namespace
            for pending in [t for t in self._unsent if t[0] == target[0]]:
                del self._unsent[pending]
        self._unsent.pop(target, None)
        self._unsent[target] = self._next_serial()
        if len(self._unsent) > self._retry_limit:
            # Bounded: what is pending becomes clears of its namespaces.
            names = dict.fromkeys(name for name, _ in self._unsent)
            self._unsent = {(name, _CLEAR): self._next_serial() for name in names}
            logger.warning(
                "more than %d cache invalidations are waiting for Redis: "
                "their namespaces will be cleared instead",
                self._retry_limit,
            )
        self._start_retrier()

    def _sent(self, target: _Target, start: int) -> None:
        """``target`` reached Redis and the channel after ``start``: what was
        pending for it (or, for a clear, in its namespace) before is done."""
        name, key = target
        for pending, serial in list(self._unsent.items()):
            if serial < start and (pending == target or (key == _CLEAR and pending[0] == name)):
                del self._unsent[pending]

    def _start_retrier(self) -> None:
        if self._closed or (self._retrier is not None and not self._retrier.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._retrier = loop.create_task(self._retry())

    async def _retry(self) -> None:
        while self._unsent and not self._closed:
            await asyncio.sleep(self._retry_delay)
            await self._resend_pending()
        if not self._unsent:
            logger.info("pending cache invalidations were sent to Redis")

    async def _resend_pending(self) -> None:
        for target, serial in list(self._unsent.items()):
            if self._unsent.get(target) != serial:
                continue  # sent or replaced meanwhile
            start = self._next_serial()
            try:
                await self._send(target)
            except Exception:
                logger.debug("sending a pending cache invalidation failed", exc_info=True)
                return  # Redis is still unavailable: try again later
            self._sent(target, start)
            self._counters["invalidations_resent"] += 1

    # -- invalidations received, and the subscription ---------------------------

    def _ensure_listener(self) -> None:
        if self._closed:
            return
        if self._listener is None or self._listener.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not in a request yet; the first request starts it
            self._listener = loop.create_task(self._listen())

    async def _listen(self) -> None:
        try:
            while not self._closed:
                try:
                    # The context closes the subscription's connection on cancellation too.
                    async with self.l2.client.pubsub() as pubsub:
                        await pubsub.subscribe(self.channel)
                        await self._receive(pubsub)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.debug("invalidation listener lost its connection", exc_info=True)
                self._distrust()
                await asyncio.sleep(self._reconnect_delay)
        finally:
            self._distrust()

    async def _receive(self, pubsub: Any) -> None:
        unanswered = 0
        while True:
            message = await pubsub.get_message(timeout=self._heartbeat)
            if message is None:
                if unanswered >= 2:
                    raise _ListenerSilent("the subscription answered no ping")
                unanswered += 1
                await self._ping(pubsub)
                continue
            unanswered = 0
            kind = message.get("type")
            if kind == "subscribe":
                # Subscribed, or subscribed again by the client after a
                # reconnection: what was published before never reached us.
                self._trust()
            elif kind == "message":
                await self._apply(message["data"])

    async def _ping(self, pubsub: Any) -> None:
        await pubsub.ping()

    def _trust(self) -> None:
        self.l1.clear_all()
        self._withhold_all()
        self._listening = True

    def _distrust(self) -> None:
        if not self._listening:
            return  # L1 was dropped when the subscription was lost
        self._listening = False
        self.l1.clear_all()
        self._withhold_all()
        if not self._closed:
            self._counters["listener_losses"] += 1
            self._log.warning(
                "listener_lost",
                "the cache invalidation listener lost its subscription: "
                "L1 dropped until it is back",
                exc_info=False,
            )

    async def _apply(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            namespace, key = message["namespace"], message["key"]
        except (ValueError, KeyError, TypeError):
            return  # not ours
        if message.get("origin") == self._origin:
            return
        if not isinstance(key, str) or not (namespace is None or isinstance(namespace, str)):
            return
        self._counters["invalidations_received"] += 1
        await self._drop((self._name(namespace), key))

    # -- L1 ------------------------------------------------------------------------

    def _name(self, namespace: str | None) -> str:
        # None is the root namespace, for both tiers.
        return namespace if namespace is not None else (self.namespace or "")

    async def _drop(self, target: _Target) -> int:
        """Removes an invalidated key (or namespace) from L1, and keeps the
        Redis reads of it in flight from putting it back."""
        name, key = target
        if key == _CLEAR:
            for reads_target, reads in self._reads.items():
                if reads_target[0] == name:
                    for read in reads:
                        read.fill = False
            return await self.l1.clear(name)
        self._withhold(target)
        return await self.l1.delete(key, name)

    def _withhold(self, target: _Target) -> None:
        for read in self._reads.get(target, ()):
            read.fill = False

    def _withhold_all(self) -> None:
        for reads in self._reads.values():
            for read in reads:
                read.fill = False

    def _l1_ttl_for(self, entry: StoredResponse) -> float:
        if entry.lifetime <= 0:
            return self.l1_ttl
        remaining = entry.lifetime - (time.time() - entry.stored_at)
        return max(0.001, min(remaining, self.l1_ttl))


async def _stop(task: asyncio.Task[None] | None) -> None:
    # redis-py can swallow a cancellation that lands while it connects, so
    # one cancel() may not stop the task: repeat until it is done.
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if task is not None and not task.cancelled():
        with contextlib.suppress(Exception):
            task.result()
