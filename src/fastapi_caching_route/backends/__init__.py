"""Storage backends."""

from .aiocache import AiocacheBackend
from .base import CacheBackend, LockHandle
from .memory import MemoryBackend
from .redis import CircuitBreaker, RedisBackend
from .tiered import TieredBackend

__all__ = [
    "AiocacheBackend",
    "CacheBackend",
    "CircuitBreaker",
    "LockHandle",
    "MemoryBackend",
    "RedisBackend",
    "TieredBackend",
]
