"""Property tests of the entry codec through the binding.

What a shared store hands back is untrusted: ``decode_response`` returns None
for anything that is not exactly an entry written by ``encode_response`` for
the same key, and never raises for bad data.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fastapi_caching_route import _core

props = settings(max_examples=300, deadline=None)

header_fields = st.lists(st.tuples(st.binary(max_size=40), st.binary(max_size=80)), max_size=12)
bodies = st.one_of(
    st.binary(max_size=2000),
    # Past the size where the GIL is released around encoding and decoding.
    st.integers(min_value=64 * 1024 - 2, max_value=200_000).map(lambda n: bytes([n % 251]) * n),
)
records = st.fixed_dictionaries(
    {
        "key": st.text(max_size=200),
        "status": st.integers(min_value=100, max_value=999),
        "headers": header_fields,
        "body": bodies,
        "media_type": st.none() | st.text(max_size=60),
        "stored_at": st.floats(),
        "last_modified": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "lifetime": st.floats(),
        "revalidate": st.booleans(),
        "tags": st.lists(st.text(max_size=30), max_size=8),
        "vary": st.lists(st.text(max_size=20), max_size=4),
        "secondary": st.text(max_size=60),
        "vary_index": st.booleans(),
    }
)


def _encode(r: dict[str, Any]) -> bytes:
    return _core.encode_response(
        r["key"],
        r["status"],
        r["headers"],
        r["body"],
        r["media_type"],
        r["stored_at"],
        r["last_modified"],
        r["lifetime"],
        r["revalidate"],
        r["tags"],
        r["vary"],
        r["secondary"],
        r["vary_index"],
    )


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _small_entry(key: str = "GET /items?page=2") -> bytes:
    return _core.encode_response(
        key,
        200,
        [(b"content-type", b"application/json"), (b"x-bin", b"a\x00b\xff")],
        b'{"ok": true}',
        "application/json",
        1_767_225_600.5,
        1_767_225_600,
        60.0,
        True,
        ["items", "page:2"],
    )


# --- round trips ------------------------------------------------------------


@props
@given(records)
def test_round_trip(r: dict[str, Any]) -> None:
    data = _encode(r)
    assert isinstance(data, bytes)
    assert data[:5] == b"FCRE\x03"
    decoded = _core.decode_response(data, r["key"])
    assert decoded is not None
    status, headers, body, media_type, stored_at, last_modified, lifetime, revalidate, tags = (
        decoded[:9]
    )
    vary, secondary, vary_index, decoded_timing = decoded[9:]
    assert decoded_timing == (0.0, 0.0, 0.0, False, False, False)
    assert vary == tuple(r["vary"])
    assert secondary == r["secondary"]
    assert vary_index is r["vary_index"]
    assert status == r["status"]
    assert headers == tuple(tuple(h) for h in r["headers"])
    assert all(type(h) is tuple and type(h[0]) is bytes for h in headers)
    assert body == r["body"]
    assert type(body) is bytes
    assert media_type == r["media_type"]
    assert _bits(stored_at) == _bits(r["stored_at"])  # NaN and -0.0 included
    assert last_modified == r["last_modified"]
    assert _bits(lifetime) == _bits(r["lifetime"])
    assert revalidate is r["revalidate"]
    assert tags == tuple(r["tags"])
    # The encoding is unique: re-encoding what was decoded gives the same bytes.
    fields = (media_type, stored_at, last_modified, lifetime, revalidate, tags, vary, secondary)
    again = _core.encode_response(r["key"], status, headers, body, *fields, vary_index)
    assert again == data


def test_tags_default_to_empty() -> None:
    data = _core.encode_response("k", 304, (), b"", None, 0.0, 0, 0.0, False)
    assert _core.decode_response(data, "k") == (
        304, (), b"", None, 0.0, 0, 0.0, False, (), (), "", False,
        (0.0, 0.0, 0.0, False, False, False),
    )  # fmt: skip


def test_freshness_fields_round_trip() -> None:
    data = _core.encode_response(
        "k", 200, (), b"", None, 1.0, 0, 60.0, False, initial_age=12.5,
        stale_while_revalidate=30.0, stale_if_error=600.0, unbounded=False,
        must_revalidate=True, heuristic=True,
    )  # fmt: skip
    decoded = _core.decode_response(data, "k")
    assert decoded is not None
    assert decoded[12] == (12.5, 30.0, 600.0, False, True, True)


def test_a_variant_decodes_only_for_its_secondary_key() -> None:
    data = _core.encode_response(
        "k",
        200,
        (),
        b"en",
        None,
        0.0,
        0,
        0.0,
        False,
        vary=["accept-language"],
        secondary="accept-language=en",
    )
    assert _core.decode_response(data, "k", "accept-language=en") is not None
    assert _core.decode_response(data, "k", "accept-language=de") is None
    assert _core.decode_response(data, "k", "") is None
    assert _core.decode_response(data, "k") is not None  # not asked: any
    index = _core.encode_response(
        "k", 200, (), b"", None, 0.0, 0, 0.0, False, vary=["accept-language"], vary_index=True
    )
    decoded = _core.decode_response(index, "k", "whatever")
    assert decoded is not None and decoded[11] is True


def test_headers_may_be_any_sequence_of_pairs() -> None:
    as_tuples = _core.encode_response("k", 200, ((b"a", b"1"),), b"", None, 0.0, 0, 0.0, False)
    pairs: Any = [[b"a", b"1"]]  # lists, not tuples
    as_lists = _core.encode_response("k", 200, pairs, b"", None, 0.0, 0, 0.0, False)
    assert as_tuples == as_lists


def test_the_most_headers_and_tags() -> None:
    headers = [(b"x-%d" % i, b"v") for i in range(1024)]
    tags = [f"t{i}" for i in range(1024)]
    data = _core.encode_response("k", 200, headers, b"", None, 0.0, 0, 0.0, False, tags)
    decoded = _core.decode_response(data, "k")
    assert decoded is not None
    assert len(decoded[1]) == 1024
    assert len(decoded[8]) == 1024


def test_large_bodies_from_many_threads() -> None:
    # Encoding and decoding release the GIL above 64 KiB: run them concurrently.
    bodies = [bytes([i]) * (256 * 1024 + i) for i in range(8)]
    failures: list[int] = []

    def work(i: int) -> None:
        for _ in range(10):
            data = _core.encode_response(f"k{i}", 200, [], bodies[i], None, 1.0, 2, 3.0, False)
            decoded = _core.decode_response(data, f"k{i}")
            if decoded is None or decoded[2] != bodies[i]:
                failures.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# --- what is not an entry for this key is None ---------------------------------


@props
@given(st.binary(max_size=4096), st.text(max_size=20))
@example(b"", "")
@example(b"FCRE\x01", "")
@example(b"FCRE\x02" + b"\x00" * 60, "")
@example(b"FCRE\x03" + b"\x00" * 60, "")
@example(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.", "k")  # a pickle
def test_arbitrary_bytes_decode_to_none(data: bytes, key: str) -> None:
    assert _core.decode_response(data, key) is None
    assert _core.decode_response(b"FCRE\x01" + data, key) is None


@props
@given(records, st.text(max_size=200))
def test_another_key_is_none(r: dict[str, Any], other: str) -> None:
    data = _encode(r)
    if other != r["key"]:
        assert _core.decode_response(data, other) is None
    else:
        assert _core.decode_response(data, other) is not None


def test_key_must_match_exactly() -> None:
    data = _small_entry("GET /items?page=2")
    assert _core.decode_response(data, "GET /items?page=2") is not None
    for other in ("GET /items?page=3", "GET /items?page=2 ", "get /items?page=2", "", "GET /items"):
        assert _core.decode_response(data, other) is None


@props
@given(records, st.data())
def test_any_single_byte_change_is_none(r: dict[str, Any], data: st.DataObject) -> None:
    encoded = _encode(r)
    index = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1), label="index")
    delta = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    corrupt = bytearray(encoded)
    corrupt[index] ^= delta
    assert _core.decode_response(bytes(corrupt), r["key"]) is None


def test_every_single_byte_change_of_an_entry_is_none() -> None:
    encoded = _small_entry()
    for index in range(len(encoded)):
        corrupt = bytearray(encoded)
        for delta in (0x01, 0x02, 0x10, 0x80, 0xFF):
            corrupt[index] = encoded[index] ^ delta
            assert _core.decode_response(bytes(corrupt), "GET /items?page=2") is None


def test_truncated_or_extended_entries_are_none() -> None:
    encoded = _small_entry()
    for n in range(len(encoded)):
        assert _core.decode_response(encoded[:n], "GET /items?page=2") is None
    assert _core.decode_response(encoded + b"\x00", "GET /items?page=2") is None
    assert _core.decode_response(b"\x00" + encoded, "GET /items?page=2") is None


# --- bad arguments to encode_response are the caller's error ---------------------


def _args(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "key": "k",
        "status": 200,
        "headers": (),
        "body": b"",
        "media_type": None,
        "stored_at": 0.0,
        "last_modified": 0,
        "lifetime": 0.0,
        "revalidate": False,
    }
    args.update(changes)
    return args


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"status": 99}, ValueError),
        ({"status": 1000}, ValueError),
        ({"headers": [(b"n", b"v")] * 1025}, ValueError),
        ({"tags": ["t"] * 1025}, ValueError),
        ({"headers": b"ab"}, TypeError),
        ({"headers": [(b"a",)]}, TypeError),
        ({"headers": [("a", "b")]}, TypeError),
        ({"headers": [b"ab"]}, TypeError),
        ({"headers": 5}, TypeError),
        ({"tags": "ab"}, TypeError),
        ({"tags": [b"t"]}, TypeError),
        ({"vary": ["n"] * 257}, ValueError),
        ({"vary": "ab"}, TypeError),
        ({"vary": [b"n"]}, TypeError),
        ({"body": "text"}, TypeError),
    ],
)
def test_invalid_arguments_raise(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        _core.encode_response(**_args(**changes))
