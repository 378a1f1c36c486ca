"""StoredResponse (mirrors _entry.py): the stored form shared by every backend."""

import pytest

from fastapi_caching_route import CachedResponse, StoredResponse
from fastapi_caching_route._entry import without_age

HEADERS = (
    (b"content-type", b"text/plain"),
    (b"content-length", b"4"),
    (b"etag", b'"abc"'),
    (b"vary", b"accept"),
    (b"cache-control", b"max-age=60"),
    (b"x-multi", b"1"),
    (b"x-multi", b"2"),
)


def test_entry_fields_and_etag() -> None:
    entry = StoredResponse(203, HEADERS, b"body", "text/plain")
    assert entry.status_code == 203
    assert entry.body == b"body"
    assert entry.raw_headers == HEADERS
    assert entry.media_type == "text/plain"
    assert entry.etag == '"abc"'
    assert StoredResponse(200, ((b"content-type", b"text/plain"),), b"", None).etag == ""


def test_round_trip_through_the_dictionary_form() -> None:
    entry = StoredResponse(203, HEADERS, b"body", "text/plain")
    value = entry.to_cached_response()
    assert value["content"] == b"body"
    assert value["media_type"] == "text/plain"
    assert value["raw_headers"] == list(HEADERS)
    assert value["status_code"] == 203
    again = StoredResponse.from_cached_response(value)
    assert (again.status_code, again.raw_headers, again.body, again.media_type) == (
        203,
        HEADERS,
        b"body",
        "text/plain",
    )


def test_dictionary_form_is_a_fresh_copy() -> None:
    entry = StoredResponse(200, HEADERS, b"body", "text/plain")
    value = entry.to_cached_response()
    value["raw_headers"].append((b"x-evil", b"1"))
    value["raw_headers"][0] = (b"content-type", b"text/html")
    assert entry.raw_headers == HEADERS
    assert entry.to_cached_response()["raw_headers"] == list(HEADERS)


def test_from_cached_response_accepts_str_headers_and_lowercases_names() -> None:
    value: CachedResponse = {
        "content": bytearray(b"abc"),  # type: ignore[typeddict-item]
        "media_type": None,
        "raw_headers": [("Content-Type", "text/plain"), ("ETag", '"x"')],  # type: ignore[list-item]
        "status_code": 200,
    }
    entry = StoredResponse.from_cached_response(value)
    assert entry.body == b"abc" and isinstance(entry.body, bytes)
    assert entry.raw_headers == ((b"content-type", b"text/plain"), (b"etag", b'"x"'))
    assert entry.etag == '"x"'


@pytest.mark.parametrize(
    "broken",
    [
        {"content": "text", "media_type": None, "raw_headers": [], "status_code": 200},
        {"content": b"", "media_type": None, "raw_headers": [], "status_code": "200"},
        {"content": b"", "media_type": None, "raw_headers": [], "status_code": True},
        {"content": b"", "media_type": None, "raw_headers": [(1, 2)], "status_code": 200},
    ],
)
def test_from_cached_response_rejects_malformed_values(broken: dict) -> None:
    with pytest.raises(TypeError):
        StoredResponse.from_cached_response(broken)  # type: ignore[arg-type]


def test_stored_fields_never_keep_an_age() -> None:
    assert without_age(((b"age", b"5"),)) == ()
    assert without_age(((b"x-a", b"1"), (b"age", b"5"), (b"x-b", b"2"))) == (
        (b"x-a", b"1"),
        (b"x-b", b"2"),
    )
    fields = ((b"x-a", b"1"),)
    assert without_age(fields) is fields  # nothing to drop: the same tuple
