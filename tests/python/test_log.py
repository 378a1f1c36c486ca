"""A failing store logs once per interval, with a count of what it held back."""

from __future__ import annotations

import logging

import pytest

from fastapi_caching_route import _log
from fastapi_caching_route._log import RateLimitedLog


def test_one_record_per_interval_and_kind(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(_log.time, "monotonic", lambda: now[0])
    log = RateLimitedLog(interval=10.0)
    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        for _ in range(5):
            log.warning("lookup_errors", "lookup failed", exc_info=False)
        log.warning("store_errors", "store failed", exc_info=False)
        now[0] += 10.0
        log.warning("lookup_errors", "lookup failed", exc_info=False)
    assert [r.getMessage() for r in caplog.records] == [
        "lookup failed",
        "store failed",
        "lookup failed (4 more since the last report)",
    ]
