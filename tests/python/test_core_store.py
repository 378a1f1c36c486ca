"""The store and hit-path bindings, called directly."""

from __future__ import annotations

from typing import Any

import pytest

from fastapi_caching_route import _core

HEADERS = ((b"content-length", b"5"), (b"content-type", b"text/plain"))
ETAG = '"abc"'


def _store_with_entry(**overrides: Any) -> tuple[_core.Store, int]:
    store = _core.Store(1 << 20)
    ns = store.namespace_id("")
    fields: dict[str, Any] = {
        "status": 200,
        "headers": HEADERS,
        "body": b"hello",
        "media_type": "text/plain",
        "etag": ETAG,
        "etag_index": 1,
        "last_modified": 900,
        "timing": timing(),
        "charge": 100,
        "ttl": 0.0,
    }
    fields.update(overrides)
    assert store.put_response(ns, "GET /x", **fields)
    return store, ns


def timing(
    stored_at: float = 1000.0,
    initial_age: float = 0.0,
    lifetime: float = 0.0,
    unbounded: bool = True,
    no_cache: bool = False,
) -> tuple[float, float, float, bool, bool, bool, bool, float, float]:
    """(stored_at, initial_age, lifetime, unbounded, heuristic, no_cache,
    must_revalidate, stale_while_revalidate, stale_if_error)."""
    return (stored_at, initial_age, lifetime, unbounded, False, no_cache, False, 0.0, 0.0)


def _scope(path: str = "/x", method: str = "GET", headers: list[Any] | None = None) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": headers or [],
    }


def _hit_path(store: _core.Store, ns: int, **overrides: Any) -> _core.HitPath:
    options: dict[str, Any] = {
        "credentials": _core.CredentialSpec(["authorization"]),
        "honor_request_cache_control": False,
        "max_key_length": 8192,
    }
    options.update(overrides)
    spec = _core.KeySpec([], [])
    return _core.HitPath(store, ns, spec, hit_header=(b"x-cache", b"HIT"), **options)


def test_generic_objects_come_back_as_the_same_object() -> None:
    store = _core.Store(1 << 20)
    ns = store.namespace_id("a")
    value = object()
    assert store.put(ns, "k", value, 10, 0.0)
    assert store.get(ns, "k") is value
    assert store.get(store.namespace_id("b"), "k") is None
    assert store.erase(ns, "k") == 1
    assert store.erase(ns, "k") == 0


def test_response_round_trip_keeps_the_body_object() -> None:
    store, ns = _store_with_entry()
    status, headers, body, media_type, etag, index, modified, stored_timing = store.get_response(
        ns, "GET /x"
    )
    assert (status, headers, body, media_type, etag, index) == (
        200,
        HEADERS,
        b"hello",
        "text/plain",
        ETAG,
        1,
    )
    assert (modified, stored_timing) == (900, timing())


@pytest.mark.parametrize(
    "headers",
    [((b"a",),), ((b"a", "text"),), (["a", b"b"],), ((b"a", b"b", b"c"),)],
)
def test_malformed_header_fields_are_rejected(headers: Any) -> None:
    store = _core.Store(1 << 20)
    with pytest.raises(TypeError, match="headers"):
        store.put_response(
            store.namespace_id(""), "k", 200, headers, b"", None, "", 0, -1, timing(), 1, 0.0
        )


def test_answer_builds_a_fresh_header_list_with_etag_in_place() -> None:
    store, ns = _store_with_entry()
    hit_path = _hit_path(store, ns)
    status, headers, body = hit_path.answer(_scope(), 1042.7)
    assert status == 200 and body == b"hello"
    assert headers == [
        (b"content-length", b"5"),
        (b"etag", ETAG.encode()),
        (b"content-type", b"text/plain"),
        (b"age", b"42"),
        (b"x-cache", b"HIT"),
    ]
    headers.clear()  # what middleware may do to the list it is given
    assert len(hit_path.answer(_scope(), 1042.7)[1]) == 5


def test_answer_misses_with_the_key_and_defers_bypasses() -> None:
    store, ns = _store_with_entry()
    hit_path = _hit_path(store, ns, max_key_length=10)
    assert hit_path.answer(_scope("/other"), 0.0) == "GET /other"  # nothing stored
    auth = [(b"authorization", b"Bearer x")]
    assert hit_path.answer(_scope(headers=auth), 0.0) is None
    assert hit_path.answer(_scope("/" + "y" * 20), 0.0) is None  # key too long


def test_answer_head_uses_the_get_entry_without_body() -> None:
    store, ns = _store_with_entry()
    status, headers, body = _hit_path(store, ns).answer(_scope(method="HEAD"), 1000.0)
    assert (status, body) == (200, b"")
    assert (b"content-length", b"5") in headers


def test_not_modified_keeps_only_validators_and_caching_fields() -> None:
    store, ns = _store_with_entry()
    request = _scope(headers=[(b"if-none-match", b'W/"abc"')])
    status, headers, body = _hit_path(store, ns).answer(request, 1000.0)
    assert (status, body) == (304, b"")
    assert [name for name, _ in headers] == [b"etag", b"age", b"x-cache"]


def test_revalidate_entries_are_never_answered() -> None:
    # RFC 9111 section 5.2.2.4: a no-cache entry is validated before any reuse.
    store, ns = _store_with_entry(timing=timing(no_cache=True))
    assert _hit_path(store, ns).answer(_scope(), 1000.0) is None  # the route revalidates
    found = _hit_path(store, ns).lookup(
        "GET /x", "GET", None, None, None, None, False, 1000.0, None
    )
    assert found == "revalidate"


def test_stale_entries_are_left_to_the_route() -> None:
    store, ns = _store_with_entry(timing=timing(lifetime=60.0, unbounded=False, initial_age=10))
    hit_path = _hit_path(store, ns)
    status, headers, _ = hit_path.answer(_scope(), 1049.0)
    assert status == 200 and (b"age", b"59") in headers  # the received age counts
    assert hit_path.answer(_scope(), 1050.0) is None
    assert hit_path.lookup("GET /x", "GET", None, None, None, None, False, 1050.0, None) == (
        "revalidate"
    )
    assert hit_path.answer(_scope("/nothing"), 1050.0) == "GET /nothing"


def test_request_no_cache_is_a_bypass_only_when_honoured() -> None:
    store, ns = _store_with_entry()
    request = _scope(headers=[(b"cache-control", b"no-cache")])
    assert isinstance(_hit_path(store, ns).answer(request, 1000.0), tuple)
    honouring = _hit_path(store, ns, honor_request_cache_control=True)
    assert honouring.answer(request, 1000.0) is None


@pytest.mark.parametrize("policy", ["s3fifo", "lru", "sieve"])
def test_every_policy_keeps_the_store_within_its_entry_bound(policy: str) -> None:
    store = _core.Store(1 << 20, 50, 1, policy)
    ns = store.namespace_id("")
    for i in range(500):
        store.put(ns, f"k{i}", i, 10, 0.0)
        store.get(ns, "k0")  # a hot key
    stats = store.stats()
    assert stats["entries"] <= 50
    assert stats["evictions"] == 500 - stats["entries"]
    assert store.get(ns, "k0") == 0  # the key read after every put stays


def test_an_unknown_policy_is_rejected() -> None:
    from fastapi_caching_route import MemoryBackend

    with pytest.raises(ValueError, match="policy"):
        MemoryBackend(policy="fifo")
    with pytest.raises(ValueError, match="policy"):
        _core.Store(1 << 20, 0, 16, "fifo")


def test_replay_of_a_stored_response_uses_the_same_rules() -> None:
    # Stores outside the engine (Redis, aiocache) keep the ETag among the fields.
    headers = (
        (b"content-type", b"text/plain"),
        (b"content-length", b"4"),
        (b"etag", b'"abc"'),
        (b"vary", b"accept"),
        (b"cache-control", b"max-age=60"),
        (b"x-multi", b"1"),
        (b"x-multi", b"2"),
    )
    hit_header = (b"x-cache", b"HIT")

    def replay(if_none_match: str | None) -> Any:
        return _core.replay(
            200, headers, b"body", '"abc"', -1, 5.0, 55.0, "GET", if_none_match, None, None,
            None, False, 1005.0, hit_header, None,
        )  # fmt: skip

    status, fields, body = replay('"abc"')
    names = [name for name, _ in fields if name not in (b"age", b"x-cache")]
    assert (status, body) == (304, b"")
    assert names == [b"etag", b"vary", b"cache-control"]
    status, fields, body = replay(None)
    assert (status, body) == (200, b"body")
    assert fields == [*headers, (b"age", b"5"), hit_header]
    with pytest.raises(TypeError, match="headers"):
        _core.replay(
            200, ((b"a",),), b"", "", -1, 0.0, 0.0, "GET", None, None, None, None, False, 0.0,
            hit_header, None,
        )  # fmt: skip
