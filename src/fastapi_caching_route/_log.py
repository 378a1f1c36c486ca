"""Logging that cannot flood: a failing store logs once per interval, not per request."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("fastapi_caching_route")


class RateLimitedLog:
    """At most one record per ``interval`` seconds for each kind of event; the
    next record says how many were suppressed in between."""

    __slots__ = ("_interval", "_last", "_suppressed")

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, kind: str, message: str, *, exc_info: bool = True) -> None:
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self._interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last[kind] = now
        suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            message = f"{message} ({suppressed} more since the last report)"
        logger.warning(message, exc_info=exc_info)
