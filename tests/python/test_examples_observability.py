"""examples/observability.py: /metrics next to cached routes, and the hit-ratio
PromQL of docs/observability.md computed from what /metrics exposes."""

import importlib

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def scrape(client: TestClient) -> dict[str, float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.labels.get("cache") == "weather" and "event" not in sample.labels
    }


def test_metrics_follow_the_cached_routes() -> None:
    module = importlib.reload(importlib.import_module("examples.observability"))
    client = TestClient(module.app)
    before = scrape(client)
    assert before["fastapi_cache_hits_total"] == 0
    assert before["fastapi_cache_entries"] == 0

    assert client.get("/weather?city=Oslo").headers["x-cache"] == "MISS"
    for _ in range(3):
        assert client.get("/weather?city=Oslo").headers["x-cache"] == "HIT"
    assert client.get("/weather?city=Bergen").headers["x-cache"] == "MISS"

    after = scrape(client)
    hits, misses = after["fastapi_cache_hits_total"], after["fastapi_cache_misses_total"]
    assert (hits, misses) == (3, 2)
    # The page's PromQL: hits / (hits + misses), here over the whole run.
    assert hits / (hits + misses) == 0.6
    assert after["fastapi_cache_entries"] == 2
    assert after["fastapi_cache_max_bytes"] == 32 * 1024 * 1024
    # Scraping is not cached and does not count as a lookup.
    assert scrape(client)["fastapi_cache_hits_total"] == 3
    assert "x-cache" not in client.get("/metrics").headers


def test_bypass_reasons_are_exported() -> None:
    module = importlib.reload(importlib.import_module("examples.observability"))
    client = TestClient(module.app)
    client.get("/weather", headers={"Authorization": "Bearer x"})
    events = {
        sample.labels["event"]: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == "fastapi_cache_route_events_total"
    }
    assert events == {"bypass_authorization": 1.0}
    assert client.get("/cache/stats").json()["route"] == {"bypass_authorization": 1}
