"""The contract every storage backend fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from .._entry import StoredResponse

RequestHeaders = Sequence[tuple[bytes, bytes]]
"""A request's raw header fields, as the ASGI scope holds them."""

DEFAULT_MAX_VARIANTS = 32


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
    """

    namespace: str | None = None
    max_variants: int = DEFAULT_MAX_VARIANTS
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
