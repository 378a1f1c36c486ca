"""Prometheus metrics for a cache (needs the ``prometheus`` extra).

The collector reads :meth:`FastAPICache.stats` when Prometheus scrapes, so it
adds nothing to the cost of a request::

    from fastapi_caching_route.metrics import register_metrics

    register_metrics(cache)              # the default prometheus_client registry
    register_metrics(cache, name="api")  # a label to tell several caches apart
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ._cache import FastAPICache

# Store counters exported as Prometheus counters: (stats key, metric, help).
_STORE_COUNTERS = (
    ("hits", "hits", "Lookups answered from the store."),
    ("misses", "misses", "Lookups that found nothing fresh."),
    ("inserts", "inserts", "Entries stored."),
    ("updates", "updates", "Entries replaced by a newer response."),
    ("evictions", "evictions", "Entries evicted to stay within the bounds."),
    ("expirations", "expirations", "Entries dropped because their TTL ran out."),
    ("deletes", "deletes", "Entries removed by invalidation."),
    ("collisions", "collisions", "Lookups whose digest matched another key."),
    ("rejections", "rejections", "Responses too large for the store."),
)
_STORE_GAUGES = (
    ("bytes", "bytes", "Bytes held by entries."),
    ("entries", "entries", "Entries held."),
    ("max_bytes", "max_bytes", "The store's byte bound."),
)


class CacheCollector(Collector):
    """A Prometheus collector over one :class:`FastAPICache`."""

    def __init__(self, cache: FastAPICache, *, name: str = "default") -> None:
        self._cache = cache
        self._name = name

    def collect(self) -> Iterator[Metric]:
        stats = self._cache.stats()
        for key, metric, help_text in _STORE_COUNTERS:
            if key in stats:
                family = CounterMetricFamily(f"fastapi_cache_{metric}", help_text, labels=["cache"])
                family.add_metric([self._name], float(stats[key]))
                yield family
        for key, metric, help_text in _STORE_GAUGES:
            if key in stats:
                gauge = GaugeMetricFamily(f"fastapi_cache_{metric}", help_text, labels=["cache"])
                gauge.add_metric([self._name], float(stats[key]))
                yield gauge
        events = CounterMetricFamily(
            "fastapi_cache_route_events",
            "Why requests bypassed the cache, responses were not stored, misses coalesced, "
            "and backend errors.",
            labels=["cache", "event"],
        )
        for event, count in sorted(stats.get("route", {}).items()):
            events.add_metric([self._name, event], float(count))
        yield events


def register_metrics(
    cache: FastAPICache, registry: CollectorRegistry = REGISTRY, *, name: str = "default"
) -> CacheCollector:
    """Register a :class:`CacheCollector` for ``cache``; returns it (to unregister)."""
    collector = CacheCollector(cache, name=name)
    registry.register(collector)
    return collector
