"""MemoryBackend's size limit: what fits max_bytes is stored, whatever the
shard count; what does not is refused, counted and logged once."""

import asyncio
import logging
import re
import time

import pytest
from conftest import Calls, caching_router, make_app, open_client
from fastapi import Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import FastAPICache, MemoryBackend, _core
from fastapi_caching_route._entry import StoredResponse

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


def _app(cache: FastAPICache, calls: Calls, size: int, vary: str = ""):  # type: ignore[no-untyped-def]
    router = caching_router()

    @cache()
    @router.get("/large")
    def large() -> Response:
        calls()
        return PlainTextResponse(b"x" * size, headers={"vary": vary} if vary else None)

    return make_app(router)


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fastapi_caching_route"]


async def test_a_response_larger_than_a_shards_share_is_stored() -> None:
    # 64 MiB over 16 shards is 4 MiB a shard; max_body_bytes is 8 MiB.
    backend = MemoryBackend(max_bytes=64 * MiB)
    cache = FastAPICache(backend)
    calls = Calls()
    async with open_client(_app(cache, calls, 6 * MiB)) as client:
        first = await client.get("/large")
        second = await client.get("/large")
    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT"
    assert second.content == b"x" * (6 * MiB)
    assert calls.count == 1
    stats = backend.stats()
    assert stats["rejections"] == 0
    assert 6 * MiB < stats["bytes"] <= 64 * MiB


# A response with Vary is stored with the other variants of its key: the same limit.
@pytest.mark.parametrize("vary", ["", "accept-language"])
async def test_a_response_larger_than_max_bytes_is_refused_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture, vary: str
) -> None:
    backend = MemoryBackend(max_bytes=1 * MiB)
    cache = FastAPICache(backend)
    calls = Calls()
    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        async with open_client(_app(cache, calls, 2 * MiB, vary)) as client:
            responses = [await client.get("/large") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all("x-cache" not in r.headers for r in responses)
    assert calls.count == 3
    stats = cache.stats()
    assert stats["rejections"] == 3
    assert stats["entries"] == 0
    assert stats["route"]["not_stored_backend_refused"] == 3
    (record,) = _refusals(caplog)
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert f"max_bytes={MiB}" in message
    assert f"response of {2 * MiB} bytes" in message


def test_each_backend_logs_its_first_refusal(caplog: pytest.LogCaptureFixture) -> None:
    value = StoredResponse(200, ((b"content-type", b"text/plain"),), b"y" * 2048, "text/plain")
    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        for _ in range(2):
            backend = MemoryBackend(max_bytes=1024)
            assert not backend.set_nowait("k", value)
            assert not backend.set_nowait("k", value)
            assert backend.stats()["rejections"] == 2
    assert len(_refusals(caplog)) == 2


def test_the_refusal_warning_says_what_was_refused_and_what_to_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    value = StoredResponse(200, ((b"content-type", b"text/plain"),), b"y" * 2048, "text/plain")
    key = "GET /" + "k" * 5000
    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        assert not MemoryBackend(max_bytes=1024).set_nowait(key, value)
    (record,) = _refusals(caplog)
    match = re.fullmatch(
        r"MemoryBackend\(max_bytes=1024\) did not store a response of 2048 bytes \(an entry of "
        r"at least (\d+) bytes with its headers, key and bookkeeping\): an entry larger than "
        r"max_bytes is never stored\. Raise max_bytes to cache it; further refusals are "
        r'counted in stats\(\)\["rejections"\] and not logged\.',
        record.getMessage(),
    )
    assert match is not None, record.getMessage()
    assert int(match[1]) >= len(value.body) + len(key)  # the key counts too


def test_a_refused_value_still_supersedes_the_stored_one() -> None:
    backend = MemoryBackend(max_bytes=64 * 1024)
    small = StoredResponse(200, (), b"old", None)
    assert backend.set_nowait("k", small)
    assert backend.get_nowait("k") is not None
    assert not backend.set_nowait("k", StoredResponse(200, (), b"z" * 65536, None))
    assert backend.get_nowait("k") is None
    assert backend.stats()["entries"] == 0


async def test_variants_are_read_back_by_the_request_headers_in_their_namespace() -> None:
    backend = MemoryBackend()
    for language in ("en", "de"):
        variant = StoredResponse(
            200,
            ((b"content-type", b"text/plain"), (b"etag", f'"{language}"'.encode())),
            language.encode(),
            "text/plain",
            stored_at=time.time(),
            lifetime=60,
            vary=("accept-language",),
            secondary=f"accept-language={language}",
        )
        assert backend.set_nowait("GET /v", variant, namespace="n", ttl=60)
    for language in ("de", "en"):
        asked = [(b"accept-language", language.encode())]
        for found in (
            backend.get_nowait("GET /v", "n", headers=asked),
            backend.peek_nowait("GET /v", "n", headers=asked),
            await backend.get("GET /v", "n", headers=asked),
        ):
            assert found is not None
            assert (found.body, found.media_type) == (language.encode(), "text/plain")
            assert found.raw_headers == (
                (b"content-type", b"text/plain"),
                (b"etag", f'"{language}"'.encode()),
            )
            # Read back with what it is stored under, as every other backend does.
            assert (found.vary, found.secondary) == (
                ("accept-language",),
                f"accept-language={language}",
            )
    assert backend.get_nowait("GET /v", headers=[(b"accept-language", b"de")]) is None


def test_a_variant_stored_back_as_read_replaces_only_itself() -> None:
    # What a 304 does to the variant it freshens (RFC 9111 section 4.3.4): the
    # other variants of the key stay, each answering its own requests.
    backend = MemoryBackend()
    for language in ("en", "de"):
        variant = StoredResponse(
            200,
            (),
            language.encode(),
            "text/plain",
            stored_at=time.time(),
            lifetime=60,
            vary=("accept-language",),
            secondary=_core.secondary_key(
                ["accept-language"], [(b"accept-language", language.encode())]
            ),
        )
        assert backend.set_nowait("GET /v", variant, ttl=60)
    german = [(b"accept-language", b"de")]
    found = backend.peek_nowait("GET /v", headers=german)
    assert found is not None
    assert backend.set_nowait("GET /v", found, ttl=60)
    english = backend.get_nowait("GET /v", headers=[(b"accept-language", b"en")])
    assert english is not None and english.body == b"en"
    again = backend.get_nowait("GET /v", headers=german)
    assert again is not None and again.body == b"de"
    plain = StoredResponse(200, (), b"plain", None, stored_at=time.time(), lifetime=60)
    assert backend.set_nowait("GET /p", plain, ttl=60)
    read = backend.get_nowait("GET /p")
    assert read is not None and (read.vary, read.secondary) == ((), "")


def test_get_counts_hits_and_misses_and_peek_counts_nothing() -> None:
    backend = MemoryBackend()
    value = StoredResponse(200, (), b"x", None, stored_at=time.time(), lifetime=60)
    assert backend.set_nowait("GET /c", value, ttl=60)

    def counted() -> tuple[int, int]:
        stats = backend.stats()
        return stats["hits"], stats["misses"]

    assert backend.peek_nowait("GET /c") is not None
    assert backend.peek_nowait("GET /other") is None
    assert counted() == (0, 0)
    assert backend.get_nowait("GET /c") is not None
    assert backend.get_nowait("GET /other") is None
    assert counted() == (1, 1)


def test_an_entry_is_charged_for_its_body_validator_and_fields() -> None:
    # stats()["bytes"] grows by the bytes each part adds (one response per key).
    def charged(
        fields: tuple[tuple[bytes, bytes], ...], body: bytes = b"body", tags: tuple[str, ...] = ()
    ) -> int:
        backend = MemoryBackend()
        value = StoredResponse(200, fields, body, "text/plain", tags=tags)
        assert backend.set_nowait("GET /c", value, ttl=60)
        return int(backend.stats()["bytes"])

    bare = charged(())
    assert charged((), b"body" + b"b" * 100) - bare == 100
    assert charged(((b"etag", b'"' + b"e" * 98 + b'"'),)) - bare == 100
    assert charged(((b"x-field", b"v" * 100),)) - bare == len(b"x-field") + 100
    # A longer tag costs at least its extra bytes (its index entry may cost more).
    assert charged((), tags=("t" * 100,)) - charged((), tags=("t" * 50,)) >= 50
    # A one-letter tag still costs what it takes in memory: its str object,
    # its slot in the entry's tags and its bucket in the engine's tag index
    # (a few hundred bytes on CPython), so max_bytes bounds the real footprint.
    assert charged((), tags=("t",)) - bare >= 200


async def test_without_a_ttl_an_entry_stays_past_a_second() -> None:
    # ttl=None: kept until evicted or replaced, for a plain response and a Vary one.
    backend = MemoryBackend()
    plain = StoredResponse(200, (), b"plain", None, stored_at=time.time(), lifetime=60)
    variant = StoredResponse(
        200,
        (),
        b"variant",
        None,
        stored_at=time.time(),
        lifetime=60,
        vary=("accept-language",),
        secondary="accept-language=en",
    )
    asked = [(b"accept-language", b"en")]
    assert backend.set_nowait("GET /plain", plain)
    assert backend.set_nowait("GET /variant", variant)
    await asyncio.sleep(1.2)
    assert backend.get_nowait("GET /plain") is not None
    assert backend.get_nowait("GET /variant", headers=asked) is not None


def test_the_policy_reaches_the_store() -> None:
    # One access pattern over three entries: the policies keep different keys.
    value = StoredResponse(200, (), b"x", None, stored_at=time.time(), lifetime=60)
    steps = ["+d", "+f", "f", "+b", "d", "a", "+c", "+e"]

    def kept(policy: str) -> tuple[str, ...]:
        backend = MemoryBackend(policy=policy, max_entries=3, shards=1)
        for step in steps:
            if step.startswith("+"):
                backend.set_nowait(step[1:], value, ttl=60)
            else:
                backend.get_nowait(step)
        return tuple(k for k in "abcdef" if backend.peek_nowait(k) is not None)

    assert len({kept(policy) for policy in ("s3fifo", "lru", "sieve")}) == 3


def test_invalidate_tags_nowait_is_hard_unless_asked_soft() -> None:
    backend = MemoryBackend()
    tagged = StoredResponse(200, (), b"x", None, stored_at=time.time(), lifetime=60, tags=("t",))
    assert backend.set_nowait("GET /t", tagged, ttl=60)
    assert backend.invalidate_tags_nowait(["t"]) == 1
    assert backend.get_nowait("GET /t") is None  # removed, not kept stale


def test_freshness_fields_come_back_from_the_store() -> None:
    backend = MemoryBackend()
    now = time.time()
    stored = StoredResponse(
        200,
        (),
        b"x",
        None,
        stored_at=now,
        lifetime=60,
        initial_age=3.0,
        must_revalidate=True,
        heuristic=True,
        stale_while_revalidate=5.0,
        stale_if_error=7.0,
    )
    assert backend.set_nowait("GET /f", stored, ttl=60)
    found = backend.get_nowait("GET /f")
    assert found is not None
    assert (found.must_revalidate, found.heuristic, found.secondary, found.vary) == (
        True,
        True,
        "",
        (),
    )
    assert (found.stale_while_revalidate, found.stale_if_error) == (5.0, 7.0)
