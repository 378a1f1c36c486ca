"""StoredResponse's dictionary form: what 0.6.0 stored, read back with our
defaults, checked, and written so that both releases can read it."""

from __future__ import annotations

from typing import Any

import pytest

from fastapi_caching_route import StoredResponse


def test_the_four_keys_of_0_6_0_read_with_our_defaults() -> None:
    entry = StoredResponse.from_cached_response(
        {
            "content": b"old",
            "media_type": "text/plain",
            "raw_headers": [("Content-Type", "text/plain"), (b"X-Old", "caf\u00e9")],
            "status_code": 200,
        }  # type: ignore[typeddict-item]
    )
    assert (entry.status_code, entry.body, entry.media_type) == (200, b"old", "text/plain")
    assert entry.raw_headers == ((b"content-type", b"text/plain"), (b"x-old", b"caf\xe9"))
    assert (entry.stored_at, entry.last_modified, entry.lifetime) == (0.0, -1, 0.0)
    assert (entry.revalidate, entry.vary, entry.secondary) == (False, (), "")
    assert (entry.initial_age, entry.stale_while_revalidate, entry.stale_if_error) == (0, 0, 0)
    assert (entry.must_revalidate, entry.heuristic) == (False, False)


def test_a_stored_response_made_without_times_was_stored_at_zero() -> None:
    entry = StoredResponse(200, (), b"", None)
    assert (entry.vary, entry.secondary, entry.tags, entry.revalidate) == ((), "", (), False)
    assert (entry.must_revalidate, entry.heuristic) == (False, False)
    assert (entry.stale_while_revalidate, entry.stale_if_error) == (0.0, 0.0)
    assert (entry.stored_at, entry.last_modified, entry.lifetime, entry.initial_age) == (
        0.0,
        -1,
        0.0,
        0.0,
    )


@pytest.mark.parametrize("vary", [(), ("accept", "accept-language")])
def test_the_dictionary_form_round_trips(vary: tuple[str, ...]) -> None:
    entry = StoredResponse(
        203,
        ((b"etag", b'"v"'), (b"x-a", b"1")),
        b"body",
        None,
        stored_at=12.5,
        last_modified=7,
        lifetime=30.0,
        revalidate=True,
        vary=vary,
        secondary="accept=a" if vary else "",
        initial_age=3.0,
        must_revalidate=True,
        heuristic=True,
        stale_while_revalidate=5.0,
        stale_if_error=7.0,
    )
    value: dict[str, Any] = dict(entry.to_cached_response())
    assert ("vary" in value, "secondary" in value) == (bool(vary), bool(vary))
    back = StoredResponse.from_cached_response(value)  # type: ignore[arg-type]
    for name in StoredResponse.__slots__:
        assert getattr(back, name) == getattr(entry, name), name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"content": "text"}, "CachedResponse['content'] must be bytes"),
        ({"status_code": "200"}, "CachedResponse['status_code'] must be an int"),
        ({"status_code": True}, "CachedResponse['status_code'] must be an int"),
        ({"raw_headers": [(b"x", 1)]}, "header names and values must be bytes or str, not int"),
    ],
)
def test_a_malformed_value_raises_what_is_wrong(change: dict[str, Any], message: str) -> None:
    value = {"content": b"", "media_type": None, "raw_headers": [], "status_code": 200, **change}
    with pytest.raises(TypeError) as raised:
        StoredResponse.from_cached_response(value)  # type: ignore[arg-type]
    assert str(raised.value) == message


def test_an_entry_without_a_lifetime_is_unbounded_unless_told() -> None:
    def unbounded(lifetime: float, told: bool | None = None) -> bool:
        return StoredResponse(200, (), b"", None, lifetime=lifetime, unbounded=told).unbounded

    assert (unbounded(0.0), unbounded(0.5), unbounded(60.0)) == (True, False, False)
    assert (unbounded(0.0, False), unbounded(60.0, True)) == (False, True)
