"""One endpoint call per key across workers: a lock per cache key in Redis.

The lock is ``SET <entry key>:lock <random token> NX PX <lease>``: the lock
key shares the entry's hash tag, so it lives on the entry's Cluster slot. Its
holder renews the lease while it works (compare-and-PEXPIRE every third of
the lease) and releases it by compare-and-delete, so a holder never extends
or removes a lock that expired and was taken by another worker. A holder
that dies stops renewing, and so does a handle dropped without release():
the lock expires after at most one lease.

Waiters poll for the lock key to disappear, with backoff. Everything fails
open: a Redis error means no lock (``acquire`` returns ``None``,
``wait_released`` returns ``False`` at once), never an exception.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from .base import LockHandle

logger = logging.getLogger("fastapi_caching_route")

DEFAULT_LOCK_LEASE = 5.0

# KEYS: lock. ARGV: token, lease in ms. 1 when the lease was renewed.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock. ARGV: token. 1 when the lock was ours and is released.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Waiters poll this often at first, then twice as long each time up to the cap.
_FIRST_POLL = 0.005
_MAX_POLL = 0.05

Call = Callable[[Awaitable[Any]], Awaitable[Any]]


def validate_lease(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"lock_lease must be a number of seconds, not {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0.01):
        raise ValueError(f"lock_lease must be at least 0.01 seconds, got {value!r}")
    return float(value)


class RedisLocks:
    """The per-key locks of one backend: its client, lease and counters.

    ``call`` runs a command through the backend's circuit breaker; ``allows``
    says whether the breaker lets a command through now.
    """

    def __init__(
        self,
        client: Any,
        lease: float,
        call: Call,
        allows: Callable[[], bool],
        counters: dict[str, int],
    ) -> None:
        self.client = client
        self.lease = lease
        self._call = call
        self._allows = allows
        self._counters = counters
        for name in ("lock_acquired", "lock_busy", "lock_waits", "lock_wait_timeouts"):
            counters.setdefault(name, 0)
        counters.setdefault("lock_errors", 0)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    async def acquire(self, lock_key: str) -> RedisLock | None:
        if not self._allows():
            self._counters["lock_errors"] += 1
            return None
        token = secrets.token_hex(16)
        lease_ms = max(1, int(self.lease * 1000))
        try:
            taken = await self._call(self.client.set(lock_key, token, nx=True, px=lease_ms))
        except Exception:
            self._failed("taking a cache lock failed")
            return None
        if not taken:
            self._counters["lock_busy"] += 1
            return None
        self._counters["lock_acquired"] += 1
        return RedisLock(self, lock_key, token)

    async def wait_released(self, lock_key: str, timeout: float) -> bool:
        self._counters["lock_waits"] += 1
        deadline = time.monotonic() + max(0.0, timeout)
        delay = _FIRST_POLL
        while True:
            if not self._allows():
                self._counters["lock_errors"] += 1
                return False
            try:
                held = await self._call(self.client.exists(lock_key))
            except Exception:
                self._failed("waiting for a cache lock failed")
                return False
            if not held:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                self._counters["lock_wait_timeouts"] += 1
                return False
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, _MAX_POLL)

    async def renew(self, lock_key: str, token: str) -> bool:
        lease_ms = max(1, int(self.lease * 1000))
        return bool(await self._call(self._renew(keys=[lock_key], args=[token, lease_ms])))

    async def release(self, lock_key: str, token: str) -> bool:
        try:
            return bool(await self._call(self._release(keys=[lock_key], args=[token])))
        except Exception:
            self._failed("releasing a cache lock failed; it expires with its lease")
            return False

    def _failed(self, message: str) -> None:
        self._counters["lock_errors"] += 1
        logger.debug(message, exc_info=True)


class RedisLock(LockHandle):
    """A held lock: renewed in the background until :meth:`release`, or until
    the handle is dropped unreleased (then its lease runs out)."""

    def __init__(self, locks: RedisLocks, lock_key: str, token: str) -> None:
        self.key = lock_key
        self._locks = locks
        self._token = token
        self._released = False
        self._lost = False
        self._valid_until = time.monotonic() + locks.lease
        self._renewal: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(
            _keep_renewed(weakref.ref(self), locks, lock_key, token)
        )

    @property
    def held(self) -> bool:
        return not (self._released or self._lost) and time.monotonic() < self._valid_until

    async def release(self) -> bool:
        if self._released:
            return False
        self._released = True
        renewal, self._renewal = self._renewal, None
        if renewal is not None:
            renewal.cancel()
            await asyncio.wait({renewal}, timeout=self._locks.lease)
        # Compare-and-delete: False when the lease ran out (the lock may be
        # another worker's by now, and stays theirs).
        return await self._locks.release(self.key, self._token)


async def _keep_renewed(
    handle_ref: weakref.ref[RedisLock], locks: RedisLocks, lock_key: str, token: str
) -> None:
    # Every third of the lease: two renewals may fail (a slow or briefly
    # unreachable Redis) before the lease runs out. Holds the handle only
    # weakly, so a handle dropped without release() stops being renewed.
    interval = locks.lease / 3
    while True:
        await asyncio.sleep(interval)
        handle = handle_ref()
        if handle is None or handle._released:
            return
        del handle
        started = time.monotonic()
        try:
            renewed = await locks.renew(lock_key, token)
        except Exception:
            logger.debug("renewing a cache lock failed", exc_info=True)
            continue
        handle = handle_ref()
        if handle is None:
            return
        if not renewed:
            handle._lost = True  # expired, and perhaps taken by another worker
            return
        handle._valid_until = started + locks.lease
        del handle
