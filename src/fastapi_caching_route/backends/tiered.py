"""Memory in front of Redis: in-process hits, one shared store, invalidations for all.

Every worker keeps a bounded in-process tier (L1, the native store) in front of
the shared Redis tier (L2). Hits on L1 cost what a memory-store hit costs; an
L1 miss asks L2 and keeps what it finds. Invalidations (delete, clear, tags
hard or soft) are published on a Redis channel and applied to the L1 of every
worker listening.

How L1 stays consistent with the invalidations:

- A read from Redis fills L1 only if no invalidation (nor store) of its key or
  namespace, nor of a tag its entry carries, reached this worker while it was
  in flight, and only if the worker was subscribed to the channel the whole
  time; the read still answers the request that made it (it began before the
  invalidation).
- When the subscription is lost (an error, a reconnection, two pings without an
  answer) L1 is dropped, and it is dropped again when the listener is
  subscribed anew, since messages sent meanwhile were missed. Until then no read
  fills L1, and this worker's own responses stay in it for one second at most.
- An invalidation Redis does not take (down, timeout, open circuit breaker) is
  applied to this worker's L1 at once and the call returns normally; the
  Redis delete and the message are sent again in the background until Redis
  takes them, and meanwhile this worker does not read the invalidated entries
  from Redis (for a tag: entries read from Redis carrying it are misses).
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
from collections.abc import Sequence
from typing import Any

from .. import _core
from .._entry import StoredResponse
from .._log import RateLimitedLog
from .base import CacheBackend, LockHandle, RequestHeaders, normalized_tags
from .memory import MemoryBackend
from .redis import RedisBackend

logger = logging.getLogger("fastapi_caching_route")

_CLEAR_KEY = "*"  # the key of a namespace clear in messages (older workers read it too)

# What an invalidation targets: (namespace name, kind, key or tag). A call for
# several tags makes one target per tag.
_KEY, _CLEAR, _TAG, _SOFT_TAG = "key", "clear", "tag", "soft-tag"
_Target = tuple[str, str, str]


def _key_target(name: str, key: str) -> _Target:
    """The target of a message's key."""
    return (name, _CLEAR, "") if key == _CLEAR_KEY else (name, _KEY, key)


class _Read:
    """A Redis read in flight: whether its answer may still go into L1, and
    the tags invalidated while it was in flight (its entry must carry none)."""

    __slots__ = ("fill", "tags")

    def __init__(self, fill: bool) -> None:
        self.fill = fill
        self.tags: set[str] = set()

    def may_fill(self, entry: StoredResponse) -> bool:
        return self.fill and (not self.tags or self.tags.isdisjoint(entry.tags))


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
        self._reads: dict[tuple[str, str], list[_Read]] = {}  # (namespace, key) -> reads
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

    @property
    def keep_stale(self) -> float:
        """Seconds a soft tag invalidation keeps entries (at least), in both tiers."""
        return self.l2.keep_stale

    @keep_stale.setter
    def keep_stale(self, value: float) -> None:
        self.l1.keep_stale = self.l2.keep_stale = value

    @property
    def lock(self) -> bool:  # type: ignore[override]
        """Whether the route locks keys across workers: the shared tier's ``lock``."""
        return self.l2.lock

    @property
    def lock_lease(self) -> float:  # type: ignore[override]
        return self.l2.lock_lease

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
        name = self._name(namespace)
        if (self._invalidating or self._unsent) and self._unsettled((name, _KEY, key)):
            return None  # invalidated here and not yet in Redis: what Redis holds is old
        read = _Read(self._listening)
        reads = self._reads.setdefault((name, key), [])
        reads.append(read)
        try:
            entry = await self.l2.get(key, namespace, headers=headers)
        finally:
            reads.remove(read)
            if not reads and self._reads.get((name, key)) is reads:
                del self._reads[(name, key)]
        if (
            entry is not None
            and entry.tags
            and (self._invalidating or self._unsent)
            and self._tags_unsettled(name, entry.tags)
        ):
            return None  # a tag it carries was invalidated here, not yet in Redis
        if entry is not None:
            if read.may_fill(entry):
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
        self._withhold(self._name(namespace), key)
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
        return await self._invalidate([(self._name(namespace), _KEY, key)])

    async def clear(self, namespace: str | None = None) -> int:
        """Remove a namespace everywhere; Redis failing is handled as in :meth:`delete`."""
        self._ensure_listener()
        return await self._invalidate([(self._name(namespace), _CLEAR, "")])

    async def invalidate_tags(
        self, tags: Sequence[str], namespace: str | None = None, *, soft: bool = False
    ) -> int:
        """Invalidate the tags in this worker's L1, in Redis and in every
        worker's L1 (hard: removed; soft: marked stale in each tier); Redis
        failing is handled as in :meth:`delete`. Returns the larger of the
        counts of this worker's L1 and of Redis."""
        self._ensure_listener()
        kind = _SOFT_TAG if soft else _TAG
        name = self._name(namespace)
        targets = [(name, kind, tag) for tag in normalized_tags(tags)]
        return await self._invalidate(targets) if targets else 0

    async def acquire(self, key: str, namespace: str | None = None) -> LockHandle | None:
        """The shared tier's lock of ``key`` (see :meth:`RedisBackend.acquire`)."""
        return await self.l2.acquire(key, namespace)

    async def wait_released(self, key: str, namespace: str | None, timeout: float) -> bool:
        """See :meth:`RedisBackend.wait_released`."""
        return await self.l2.wait_released(key, namespace, timeout)

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

    async def _invalidate(self, targets: list[_Target]) -> int:
        """``targets``: one key, one clear, or the tags of one call (one kind)."""
        removed = await self._drop(targets)
        start = self._next_serial()
        for target in targets:
            self._invalidating[target] = self._invalidating.get(target, 0) + 1
        try:
            removed = max(removed, await self._send(targets))
        except asyncio.CancelledError:
            self._defer(targets)
            raise
        except Exception:
            self._defer(targets)
            self._log.warning(
                "invalidation_deferred",
                "the shared tier did not take a cache invalidation: applied to this "
                "worker's L1, sent again in the background",
            )
        else:
            for target in targets:
                self._sent(target, start)
        finally:
            for target in targets:
                left = self._invalidating[target] - 1
                if left:
                    self._invalidating[target] = left
                else:
                    del self._invalidating[target]
        return removed

    async def _send(self, targets: list[_Target]) -> int:
        """Applies an invalidation to Redis and tells the other workers."""
        if not self.l2.breaker.allows():
            raise _SharedTierUnavailable("the shared tier's circuit breaker is open")
        name, kind, key = targets[0]
        fields: dict[str, Any]
        if kind == _CLEAR:
            removed = await self.l2.clear(name)
            fields = {"key": _CLEAR_KEY}
        elif kind == _KEY:
            removed = await self.l2.delete(key, name)
            fields = {"key": key}
        else:
            tags = [tag for _, _, tag in targets]
            removed = await self.l2.invalidate_tags(tags, name, soft=kind == _SOFT_TAG)
            fields = {"tags": tags, "soft": kind == _SOFT_TAG}
        message = json.dumps({"origin": self._origin, "namespace": name, **fields})
        await self.l2.client.publish(self.channel, message)
        return removed

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _unsettled(self, target: _Target) -> bool:
        whole = (target[0], _CLEAR, "")
        return (
            target in self._invalidating
            or target in self._unsent
            or whole in self._invalidating
            or whole in self._unsent
        )

    def _tags_unsettled(self, name: str, tags: Sequence[str]) -> bool:
        return any(
            (name, kind, tag) in pending
            for tag in tags
            for kind in (_TAG, _SOFT_TAG)
            for pending in (self._invalidating, self._unsent)
        )

    def _defer(self, targets: list[_Target]) -> None:
        self._counters["invalidations_deferred"] += 1
        for target in targets:
            if target[1] == _CLEAR:  # it covers what is pending in its namespace
                for pending in [t for t in self._unsent if t[0] == target[0]]:
                    del self._unsent[pending]
            self._unsent.pop(target, None)
            self._unsent[target] = self._next_serial()
        if len(self._unsent) > self._retry_limit:
            # Bounded: what is pending becomes clears of its namespaces.
            names = dict.fromkeys(name for name, _, _ in self._unsent)
            self._unsent = {(name, _CLEAR, ""): self._next_serial() for name in names}
            logger.warning(
                "more than %d cache invalidations are waiting for Redis: "
                "their namespaces will be cleared instead",
                self._retry_limit,
            )
        self._start_retrier()

    def _sent(self, target: _Target, start: int) -> None:
        """``target`` reached Redis and the channel after ``start``: what was
        pending for it (or, for a clear, in its namespace; for a hard tag, its
        soft one) before is done."""
        name, kind, key = target
        covered = {target}
        if kind == _TAG:
            covered.add((name, _SOFT_TAG, key))
        for pending, serial in list(self._unsent.items()):
            if serial < start and (pending in covered or (kind == _CLEAR and pending[0] == name)):
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
                await self._send([target])
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
            namespace = message["namespace"]
            if not (namespace is None or isinstance(namespace, str)):
                return
            targets = _targets_of(message, self._name(namespace))
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # not ours
        if message.get("origin") == self._origin or not targets:
            return
        self._counters["invalidations_received"] += 1
        await self._drop(targets)

    # -- L1 ------------------------------------------------------------------------

    def _name(self, namespace: str | None) -> str:
        # None is the root namespace, for both tiers.
        return namespace if namespace is not None else (self.namespace or "")

    async def _drop(self, targets: list[_Target]) -> int:
        """Applies an invalidation to L1 (a key or namespace removed, tags
        removed or softened), and keeps the Redis reads in flight that it
        covers from putting what they read into L1."""
        name, kind, key = targets[0]
        if kind == _CLEAR:
            for (read_name, _), reads in self._reads.items():
                if read_name == name:
                    for read in reads:
                        read.fill = False
            return await self.l1.clear(name)
        if kind == _KEY:
            self._withhold(name, key)
            return await self.l1.delete(key, name)
        tags = [tag for _, _, tag in targets]
        for (read_name, _), reads in self._reads.items():
            if read_name == name:
                for read in reads:
                    read.tags.update(tags)
        return self.l1.invalidate_tags_nowait(tags, name, soft=kind == _SOFT_TAG)

    def _withhold(self, name: str, key: str) -> None:
        for read in self._reads.get((name, key), ()):
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


def _targets_of(message: dict[str, Any], name: str) -> list[_Target]:
    """The targets of a message: a key (``"*"``: a clear) or tags; raises
    TypeError or KeyError for a message that is not ours."""
    if "tags" in message:
        tags, soft = message["tags"], message.get("soft", False)
        if not isinstance(tags, list) or not isinstance(soft, bool):
            raise TypeError("not a tag invalidation")
        kind = _SOFT_TAG if soft else _TAG
        return [(name, kind, tag) for tag in normalized_tags(tags)]
    key = message["key"]
    if not isinstance(key, str):
        raise TypeError("not a key invalidation")
    return [_key_target(name, key)]


async def _stop(task: asyncio.Task[None] | None) -> None:
    # redis-py can swallow a cancellation that lands while it connects, so
    # one cancel() may not stop the task: repeat until it is done.
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if task is not None and not task.cancelled():
        with contextlib.suppress(Exception):
            task.result()
