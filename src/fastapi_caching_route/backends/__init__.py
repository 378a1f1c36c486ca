"""Storage backends."""

from .aiocache import AiocacheBackend
from .base import CacheBackend
from .memory import MemoryBackend

__all__ = ["AiocacheBackend", "CacheBackend", "MemoryBackend"]
