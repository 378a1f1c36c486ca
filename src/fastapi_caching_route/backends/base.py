"""The contract every storage backend fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from .. import _core
from .._entry import StoredResponse

RequestHeaders = Sequence[tuple[bytes, bytes]]
"""A request's raw header fields, as the ASGI scope holds them."""

DEFAULT_MAX_VARIANTS = 32
DEFAULT_KEEP_STALE = 300.0


class LockHandle(ABC):
    """A held cross-worker lock on one cache key (see :meth:`CacheBackend.acquire`).

    Its lease is renewed in the background while it is held; :meth:`release`
    gives it up (also on leaving ``async with``).
    """

    @property
    @abstractmethod
    def held(self) -> bool:
        """Whether the lock is still ours: not released, not lost to an expired lease."""

    @abstractmethod
    async def release(self) -> bool:
        """Give the lock up; returns whether it was still ours. Never raises."""

    async def __aenter__(self) -> LockHandle:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.release()


class CacheBackend(ABC):
    """Where responses are stored.

    ``namespace`` is the root namespace; a ``None`` namespace argument means the
    root. Backends whose lookups never wait (the in-process store) set
    ``synchronous = True`` and implement :meth:`get_nowait`, which the route
    calls on its hot path without creating a coroutine.

    A key may hold several responses when they carry a ``Vary`` (RFC 9111
    section 4.1): ``get(..., headers=...)`` returns the one stored for a
    request with the same values of the ``Vary`` fields, and at most
    ``max_variants`` are kept per key (the oldest give way). A backend whose
    ``get`` takes no ``headers`` keeps one response per key; the route then
    checks the stored response's ``vary``/``secondary`` itself.

    Entries carry tags (``StoredResponse.tags``); :meth:`invalidate_tags`
    removes them or marks them stale. A soft invalidation keeps an entry at
    most ``keep_stale`` seconds more, or its own stale windows.

    Backends shared by several workers may offer a per-key lock (``lock``
    true): :meth:`acquire` and :meth:`wait_released`, so that one worker
    calls the endpoint while the others wait for its response.
    """

    namespace: str | None = None
    max_variants: int = DEFAULT_MAX_VARIANTS
    keep_stale: float = DEFAULT_KEEP_STALE
    lock: bool = False
    lock_lease: float = 0.0
    synchronous: bool = False
    # With a native hit path (hit_path()): whether a miss there still leaves
    # this backend's get() to ask (a tier behind the in-process one).
    lookup_after_native_miss: bool = False

    @abstractmethod
    async def get(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        """The stored response for ``key`` (for a request with ``headers``), or ``None``."""

    @abstractmethod
    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Store ``value``; returns whether it was stored."""

    @abstractmethod
    async def delete(self, key: str, namespace: str | None = None) -> int:
        """Remove ``key``; returns the number of entries removed."""

    @abstractmethod
    async def clear(self, namespace: str | None = None) -> int:
        """Remove every entry of a namespace; returns how many were removed."""

    async def invalidate_tags(
        self, tags: Sequence[str], namespace: str | None = None, *, soft: bool = False
    ) -> int:
        """Remove every entry of a namespace carrying any of ``tags``; returns how
        many were removed (each variant of a Vary'd key counts).

        ``soft=True`` keeps them but stale from now: their freshness lifetime
        ends at their current age, their stale windows are kept, so a route
        serves them stale within ``stale-while-revalidate`` while one refresh
        runs, and revalidates them (or misses) otherwise. Returns how many it
        marked (entries that were stale already count too).

        ```py
        await backend.invalidate_tags(["user:42", "path:/items/1"], soft=True)
        ```
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement invalidate_tags(): "
            "use a backend with tags (MemoryBackend, RedisBackend, TieredBackend, "
            "AiocacheBackend) or implement it"
        )

    async def acquire(self, key: str, namespace: str | None = None) -> LockHandle | None:
        """Take the cross-worker lock of ``key``: a handle while this worker
        holds it, ``None`` when another worker does (or the store failed)."""
        raise NotImplementedError(f"{type(self).__name__} has no cross-worker lock")

    async def wait_released(self, key: str, namespace: str | None, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for another worker's lock on ``key``;
        returns whether it was released (``False`` on timeout or a store error)."""
        raise NotImplementedError(f"{type(self).__name__} has no cross-worker lock")

    def get_nowait(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        """Synchronous lookup, for backends with ``synchronous = True``."""
        raise NotImplementedError(f"{type(self).__name__} has no synchronous lookup")

    def stats(self) -> dict[str, Any]:
        """Backend counters; empty when the backend keeps none."""
        return {}


def validate_max_variants(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_variants must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"max_variants must be >= 1, got {value}")
    return value


def normalized_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """``tags`` as stored and matched by every backend: each once, in order.

    Any text works; a tag holding lone surrogates (a path decoded with
    ``surrogateescape``), which has no UTF-8 form, is stored as its
    ``surrogatepass`` bytes with the invalid ones backslash-escaped.
    """
    if isinstance(tags, (str, bytes)):
        raise TypeError("tags must be a sequence of str, not a single str")
    out: dict[str, None] = {}
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"tags must be str, not {type(tag).__name__}")
        if not tag.isascii():
            try:
                tag.encode("utf-8")
            except UnicodeEncodeError:
                raw = tag.encode("utf-8", "surrogatepass")
                tag = raw.decode("utf-8", "backslashreplace")
        out[tag] = None
    return tuple(out)


def stale_copy(entry: StoredResponse, now: float) -> StoredResponse | None:
    """``entry`` made stale at ``now`` by a soft tag invalidation, or ``None``
    when it is stale already (the engine's rule, ``_core.stale_timing``)."""
    timing = _core.stale_timing(entry.timing, now)
    if timing is None:
        return None
    return StoredResponse.from_timing(
        entry.status_code,
        entry.raw_headers,
        entry.body,
        entry.media_type,
        entry.last_modified,
        timing,
        vary=entry.vary,
        secondary=entry.secondary,
        tags=entry.tags,
    )
