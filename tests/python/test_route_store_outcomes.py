"""What storing a miss leaves behind, pinned to exact values: the Cache-Status
member of a miss (RFC 9211 section 2), the ``not_stored_*`` counters (one per
response), the fields a stored stream is replayed with (one Content-Length,
one ETag), the tag header's separator, the failure logged for a tags function
that raises, and the store ttl a backend is given.

Each test kills a planted one-line mistake in ``_storing`` that every other
test let through (mutation testing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import CLOCK_START, Calls, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from fastapi_caching_route import FastAPICache, MemoryBackend, RedisBackend, StoredResponse

pytestmark = pytest.mark.anyio

NOW = CLOCK_START  # the clock fixture starts here
MINUS_DAY = "Mon, 13 Nov 2023 22:13:20 GMT"
STATUS = "fastapi-caching-route"  # the default cache_status_name


def _chunks(text: str) -> Iterator[bytes]:
    # Two chunks: a stream whose length is known only once it has been sent.
    half = len(text) // 2
    yield text[:half].encode()
    yield text[half:].encode()


def streamed(text: str, headers: dict[str, str] | None = None) -> StreamingResponse:
    return StreamingResponse(_chunks(text), media_type="text/plain", headers=headers)


def content_lengths(response: httpx.Response) -> list[str]:
    return [value for name, value in response.headers.multi_items() if name == "content-length"]


def route_counters(cache: FastAPICache) -> dict[str, int]:
    counters: dict[str, int] = cache.stats()["route"]
    return counters


# --- Cache-Status of a miss (RFC 9211 section 2) ----------------------------------------------


async def test_a_status_not_stored_is_a_uri_miss_with_detail_status(
    make_cache: MakeCache,
) -> None:
    # RFC 9211 section 2.2: "fwd" says why the cache went forward, "detail"
    # why nothing was stored; a 201 is not among the default accepted statuses.
    cache = make_cache(cache_status=True)
    router = caching_router()

    @cache(ttl=60)
    @router.get("/created")
    def created() -> Response:
        return PlainTextResponse("made", status_code=201)

    async with open_client(make_app(router)) as client:
        answer = await client.get("/created")
    assert answer.status_code == 201
    assert answer.headers.get_list("cache-status") == [f"{STATUS}; fwd=uri-miss; detail=status"]
    assert "x-cache" not in answer.headers


async def test_a_request_directive_s_forward_keeps_its_reason_on_a_status_not_stored(
    make_cache: MakeCache,
) -> None:
    # RFC 9211 section 2.2: fwd=request, "forwarded because of request
    # directives" (a request no-cache, honoured by this route), stays the
    # reason; detail=status is added to it.
    cache = make_cache(cache_status=True)
    router = caching_router()

    @cache(ttl=60, honor_request_cache_control=True)
    @router.get("/created")
    def created() -> Response:
        return PlainTextResponse("made", status_code=201)

    async with open_client(make_app(router)) as client:
        answer = await client.get("/created", headers={"cache-control": "no-cache"})
    assert answer.headers.get_list("cache-status") == [f"{STATUS}; fwd=request; detail=status"]


async def test_a_stored_stream_is_a_uri_miss_marked_stored(make_cache: MakeCache) -> None:
    # A stream is marked stored as it goes out (stored once the client has it
    # all), with the same member as a stored plain response.
    cache = make_cache(cache_status=True)
    router = caching_router()

    @cache(ttl=60)
    @router.get("/s")
    def stream() -> Response:
        return streamed("a streamed body")

    async with open_client(make_app(router)) as client:
        miss = await client.get("/s")
        hit = await client.get("/s")
    assert miss.text == "a streamed body"
    assert miss.headers.get_list("cache-status") == [f"{STATUS}; fwd=uri-miss; stored"]
    assert miss.headers["x-cache"] == "MISS"
    assert (hit.text, hit.headers["x-cache"]) == ("a streamed body", "HIT")


async def test_a_stream_stored_after_a_request_no_cache_is_fwd_request_stored(
    make_cache: MakeCache,
) -> None:
    # RFC 9211 section 2.2: the reason to go forward (the request's no-cache)
    # is kept when the answer is stored.
    cache = make_cache(cache_status=True)
    router = caching_router()

    @cache(ttl=60, honor_request_cache_control=True)
    @router.get("/s")
    def stream() -> Response:
        return streamed("a streamed body")

    async with open_client(make_app(router)) as client:
        forced = await client.get("/s", headers={"cache-control": "no-cache"})
    assert forced.headers.get_list("cache-status") == [f"{STATUS}; fwd=request; stored"]


@pytest.mark.parametrize("backend_kind", ["memory"])
@pytest.mark.parametrize("refreshed_with", ["stream", "201"])
async def test_a_refresh_of_an_entry_invalidated_meanwhile_is_an_ordinary_miss(
    make_cache: MakeCache, clock: Clock, refreshed_with: str
) -> None:
    # RFC 5861 section 3: a stale-while-revalidate answer starts a background
    # refresh. When the entry is gone before the refresh looks (invalidated),
    # the refresh asks the endpoint unconditionally and stores (or not) what
    # it answers, as a miss would -- and it succeeds. Memory only: its lookups
    # do not yield to the event loop, so the invalidation below comes first.
    cache = make_cache(invalidate_on_unsafe=False)
    router = caching_router()
    asked: list[str | None] = []

    @cache(ttl=10, stale_while_revalidate=60, tags=["things"])
    @router.get("/r")
    async def resource(request: Request) -> Response:
        asked.append(request.headers.get("if-none-match"))
        if len(asked) == 1:
            return PlainTextResponse("v1")
        if refreshed_with == "stream":
            return streamed("v2 streamed")
        return PlainTextResponse("v2", status_code=201)

    async with open_client(make_app(router)) as client:
        await client.get("/r")
        clock.now = NOW + 30
        stale = await client.get("/r")  # starts the refresh
        assert await cache.invalidate_tags("things") == 1
        assert await cache.wait_for_refreshes()
    assert (stale.text, stale.headers["x-cache"]) == ("v1", "STALE")
    assert asked == [None, None]  # the refresh found nothing to revalidate
    counters = route_counters(cache)
    assert (counters["refreshes_succeeded"], counters.get("refreshes_failed", 0)) == (1, 0)


# --- the not_stored counters: one per response ------------------------------------------------


async def test_vary_star_is_counted_once_per_response(make_cache: MakeCache) -> None:
    # RFC 9111 section 4.1: a Vary "*" always fails to match, so it is not stored.
    cache = make_cache()
    router = caching_router()

    @cache(ttl=60)
    @router.get("/v")
    def varying() -> Response:
        return PlainTextResponse("v", headers={"vary": "*"})

    async with open_client(make_app(router)) as client:
        first = await client.get("/v")
        assert route_counters(cache)["not_stored_vary_star"] == 1
        second = await client.get("/v")
    assert route_counters(cache)["not_stored_vary_star"] == 2
    assert "x-cache" not in first.headers and "x-cache" not in second.headers


async def test_a_response_older_than_its_lifetime_on_arrival_is_counted_zero_lifetime(
    make_cache: MakeCache,
) -> None:
    # RFC 9111 section 4.2.3: its Age is part of a response's current age; an
    # Age of 100 s on a max-age=60 response makes it stale on arrival, and
    # without a validator it could never be reused. Two Age lines are one
    # list (RFC 9110 section 5.3) whose first member counts (RFC 9111 section
    # 5.1: "SHOULD use the first member").
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/old")
    def old() -> Response:
        calls()
        response = PlainTextResponse("old", headers={"cache-control": "max-age=60"})
        response.headers.append("age", "100")
        response.headers.append("age", "5")
        return response

    async with open_client(make_app(router)) as client:
        first = await client.get("/old")
        assert route_counters(cache)["not_stored_zero_lifetime"] == 1
        second = await client.get("/old")
    assert route_counters(cache)["not_stored_zero_lifetime"] == 2
    assert calls.count == 2
    assert "x-cache" not in first.headers and "x-cache" not in second.headers


async def test_max_age_zero_without_a_validator_is_counted_and_not_stored(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/now")
    def now() -> Response:
        calls()
        return PlainTextResponse("now", headers={"cache-control": "max-age=0"})

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/now") for _ in range(2)]
    assert calls.count == 2
    assert all("x-cache" not in a.headers for a in answers)
    assert route_counters(cache)["not_stored_zero_lifetime"] == 2


@pytest.mark.parametrize(
    "validator", [{"etag": '"v1"'}, {"last-modified": MINUS_DAY}], ids=["etag", "last-modified"]
)
async def test_max_age_zero_with_a_validator_is_stored_to_be_revalidated(
    make_cache: MakeCache, validator: dict[str, str]
) -> None:
    # RFC 9111 section 4.3.1: a stored response stale on arrival still serves
    # through validation; Last-Modified alone is a validator (If-Modified-Since).
    cache = make_cache(cache_status=True)
    router = caching_router()
    asked: list[tuple[str | None, str | None]] = []

    @cache(set_last_modified=False)  # only the endpoint's own validator
    @router.get("/v")
    def validated(request: Request) -> Response:
        asked.append(
            (request.headers.get("if-none-match"), request.headers.get("if-modified-since"))
        )
        if len(asked) > 1:
            return Response(status_code=304, headers=validator)
        return PlainTextResponse("body", headers={"cache-control": "max-age=0", **validator})

    async with open_client(make_app(router)) as client:
        miss = await client.get("/v")
        revalidated = await client.get("/v")
    assert miss.headers["x-cache"] == "MISS"
    # The second request asked with the endpoint's validator (If-None-Match for
    # an ETag, If-Modified-Since for a Last-Modified).
    ((name, value),) = validator.items()
    assert dict(zip(("etag", "last-modified"), asked[1], strict=True))[name] == value
    assert (revalidated.status_code, revalidated.text) == (200, "body")
    assert revalidated.headers.get_list("cache-status") == [f"{STATUS}; fwd=stale; fwd-status=304"]
    assert "not_stored_zero_lifetime" not in route_counters(cache)


@pytest.mark.parametrize(("value", "verdict"), [("no-store", "no_store"), ("private", "private")])
async def test_a_validator_never_overrides_no_store_or_private(
    make_cache: MakeCache, value: str, verdict: str
) -> None:
    # RFC 9111 section 3: no-store (and, for a shared cache, private) forbids
    # storing; the validators exception is for a zero lifetime only.
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/secret")
    def secret() -> Response:
        calls()
        return PlainTextResponse(
            "secret", headers={"cache-control": value, "etag": '"s"', "last-modified": MINUS_DAY}
        )

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/secret") for _ in range(2)]
    assert calls.count == 2
    assert all("x-cache" not in a.headers for a in answers)
    assert route_counters(cache)[f"not_stored_{verdict}"] == 2


async def test_a_positive_lifetime_without_a_validator_is_stored(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(set_last_modified=False)
    @router.get("/plain")
    def plain() -> Response:
        calls()
        return PlainTextResponse("plain", headers={"cache-control": "max-age=60"})

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/plain") for _ in range(2)]
    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT"]
    assert calls.count == 1
    assert not [name for name in route_counters(cache) if name.startswith("not_stored_")]


# --- several field lines are one field (RFC 9110 section 5.3) ---------------------------------


@pytest.mark.parametrize("field", ["cache-control", "cdn-cache-control"])
async def test_two_cache_control_lines_are_read_as_one_list(
    make_cache: MakeCache, field: str
) -> None:
    # RFC 9110 section 5.3: field lines of one name combine "in order ...
    # separated by a comma"; a no-store on the second line forbids storing
    # (RFC 9111 section 3, RFC 9213 section 2.1 for CDN-Cache-Control).
    cache = make_cache(cdn_cache_control=True)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/two")
    def two() -> Response:
        calls()
        response = PlainTextResponse("two")
        response.headers.append(field, "max-age=60")
        response.headers.append(field, "no-store")
        return response

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/two") for _ in range(2)]
    assert calls.count == 2
    assert all("x-cache" not in a.headers for a in answers)
    assert route_counters(cache)["not_stored_no_store"] == 2


async def test_two_vary_lines_merged_with_the_route_s_vary_headers(
    make_cache: MakeCache,
) -> None:
    # RFC 9111 section 4.1: every name on every Vary line selects the variant;
    # the route's vary_headers are added to them (RFC 9110 section 12.5.5).
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(ttl=60, vary_headers=["x-tenant"])
    @router.get("/two")
    def two(request: Request) -> Response:
        calls()
        text = f"{request.headers.get('accept-language')}|{request.headers.get('x-tenant')}"
        response = PlainTextResponse(text)
        response.headers.append("vary", "Accept-Language")
        response.headers.append("vary", "X-Region")
        return response

    async def get(language: str, region: str) -> httpx.Response:
        return await client.get(
            "/two",
            headers={"accept-language": language, "x-region": region, "x-tenant": "t1"},
        )

    async with open_client(make_app(router)) as client:
        miss = await get("en", "eu")
        hit = await get("en", "eu")
        other_language = await get("de", "eu")
        other_region = await get("en", "us")
    merged = "accept-language, x-region, x-tenant"  # one line, names in lower case
    assert miss.headers.get_list("vary") == [merged]
    assert hit.headers.get_list("vary") == [merged]
    assert (hit.text, hit.headers["x-cache"]) == ("en|t1", "HIT")
    assert (other_language.text, other_language.headers["x-cache"]) == ("de|t1", "MISS")
    assert (other_region.text, other_region.headers["x-cache"]) == ("en|t1", "MISS")
    assert calls.count == 3


async def test_vary_lines_naming_the_route_s_headers_already_are_kept_as_sent(
    make_cache: MakeCache,
) -> None:
    # Nothing to add: the endpoint's own Vary lines go out (and are stored)
    # unchanged. (Names in another case are rewritten as one lower-case line.)
    cache = make_cache()
    router = caching_router()

    @cache(ttl=60, vary_headers=["x-tenant"])
    @router.get("/two")
    def two() -> Response:
        response = PlainTextResponse("two")
        response.headers.append("vary", "accept-language")
        response.headers.append("vary", "x-tenant")
        return response

    async with open_client(make_app(router)) as client:
        miss = await client.get("/two")
        hit = await client.get("/two")
    assert miss.headers.get_list("vary") == ["accept-language", "x-tenant"]
    assert hit.headers.get_list("vary") == ["accept-language", "x-tenant"]
    assert hit.headers["x-cache"] == "HIT"


# --- a stream over max_body_bytes ---------------------------------------------------------


async def test_a_stream_declaring_a_length_over_the_limit_is_counted_once_and_not_marked(
    make_cache: MakeCache,
) -> None:
    # Its Content-Length says up front it cannot be stored: it goes out
    # unmarked (no MISS, no "stored"), counted once per response.
    cache = make_cache(max_body_bytes=16, cache_status=True)
    router = caching_router()
    calls = Calls()
    body = "x" * 20

    @cache(ttl=60)
    @router.get("/big")
    def big() -> Response:
        calls()
        return streamed(body, headers={"content-length": "20"})

    async with open_client(make_app(router)) as client:
        first = await client.get("/big")
        assert route_counters(cache)["not_stored_body_too_large"] == 1
        second = await client.get("/big")
    assert route_counters(cache)["not_stored_body_too_large"] == 2
    for answer in (first, second):
        assert answer.text == body
        assert "x-cache" not in answer.headers
        assert answer.headers.get_list("cache-status") == [f"{STATUS}; fwd=uri-miss"]
    assert calls.count == 2


async def test_a_stream_declaring_exactly_the_limit_is_stored(make_cache: MakeCache) -> None:
    cache = make_cache(max_body_bytes=16)
    router = caching_router()
    body = "y" * 16

    @cache(ttl=60)
    @router.get("/edge")
    def edge() -> Response:
        return streamed(body, headers={"content-length": "16"})

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/edge") for _ in range(2)]
    assert [(a.text, a.headers["x-cache"]) for a in answers] == [(body, "MISS"), (body, "HIT")]
    assert "not_stored_body_too_large" not in route_counters(cache)


# --- a stored stream's fields -------------------------------------------------------------


async def test_a_stored_stream_is_replayed_with_one_content_length_of_its_body(
    make_cache: MakeCache,
) -> None:
    # RFC 9110 section 8.6: one Content-Length, the body's length -- the
    # endpoint's own declared one is replaced by the measured one, not doubled.
    cache = make_cache()
    router = caching_router()
    body = "declared and measured"

    @cache(ttl=60)
    @router.get("/s")
    def stream() -> Response:
        return streamed(body, headers={"content-length": str(len(body))})

    async with open_client(make_app(router)) as client:
        await client.get("/s")
        hit = await client.get("/s")
        part = await client.get("/s", headers={"range": "bytes=0-7"})
    assert (hit.text, hit.headers["x-cache"]) == (body, "HIT")
    assert content_lengths(hit) == [str(len(body))]
    # RFC 9110 section 14.2: a 206 from the stored entry, one Content-Length:
    # the part's.
    assert (part.status_code, part.text) == (206, "declared")
    assert content_lengths(part) == ["8"]


async def test_a_stored_stream_carries_the_routes_tags(make_cache: MakeCache) -> None:
    # A stream is stored after it was sent: its entry still carries the route's
    # tags, so invalidate_tags removes it (it would be served on otherwise).
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(ttl=60, tags=["things"])
    @router.get("/s")
    def stream() -> Response:
        calls()
        return streamed(f"version {calls.count}")

    async with open_client(make_app(router)) as client:
        first = await client.get("/s")
        hit = await client.get("/s")
        assert await cache.invalidate_tags("things") == 1
        after = await client.get("/s")
    assert (first.text, first.headers["x-cache"]) == ("version 1", "MISS")
    assert (hit.text, hit.headers["x-cache"]) == ("version 1", "HIT")
    assert (after.text, after.headers["x-cache"]) == ("version 2", "MISS")


async def test_a_stored_stream_keeps_the_endpoint_s_etag(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()

    @cache(ttl=60)
    @router.get("/s")
    def stream() -> Response:
        return streamed("tagged body", headers={"etag": '"mine"'})

    async with open_client(make_app(router)) as client:
        miss = await client.get("/s")
        hit = await client.get("/s")
        not_modified = await client.get("/s", headers={"if-none-match": '"mine"'})
    assert miss.headers.get_list("etag") == ['"mine"']
    assert hit.headers.get_list("etag") == ['"mine"']
    assert not_modified.status_code == 304


async def test_a_stored_stream_gets_the_etag_of_its_body(make_cache: MakeCache) -> None:
    # The same ETag a plain response with that body gets: computed from the
    # bytes once the stream is complete, one field.
    cache = make_cache()
    router = caching_router()

    @cache(ttl=60)
    @router.get("/s")
    def stream() -> Response:
        return streamed("same bytes")

    @cache(ttl=60)
    @router.get("/p")
    def plain() -> Response:
        return PlainTextResponse("same bytes")

    async with open_client(make_app(router)) as client:
        miss = await client.get("/s")
        hit = await client.get("/s")
        reference = await client.get("/p")
    assert "etag" not in miss.headers  # not known while it was sent
    assert hit.headers.get_list("etag") == [reference.headers["etag"]]
    assert hit.headers["x-cache"] == "HIT"


async def test_a_stream_s_client_max_age_is_bounded_by_its_lifetime(
    make_cache: MakeCache,
) -> None:
    # client_max_age never promises more than the entry's own lifetime.
    cache = make_cache()
    router = caching_router()

    @cache(ttl=30, client_max_age=300)
    @router.get("/s")
    def stream() -> Response:
        return streamed("bounded")

    async with open_client(make_app(router)) as client:
        miss = await client.get("/s")
        hit = await client.get("/s")
    assert miss.headers.get_list("cache-control") == ["max-age=30"]
    assert hit.headers.get_list("cache-control") == ["max-age=30"]
    assert hit.headers["x-cache"] == "HIT"


# --- tags: the header's separator, a failing tags function ---------------------------------


@pytest.mark.parametrize(
    ("tag_header", "value"),
    [("Cache-Tag", "a, b"), ("CACHE-TAG", "a, b"), ("Surrogate-Key", "a b")],
)
async def test_the_tag_header_separator_follows_the_header(
    make_cache: MakeCache, tag_header: str, value: str
) -> None:
    # Cache-Tag (Cloudflare, Akamai) is a comma list; Surrogate-Key (Fastly) is
    # space separated. The header name is matched without regard to case.
    cache = make_cache(tag_header=tag_header)
    router = caching_router()

    @cache(ttl=60, tags=["a", "b"])
    @router.get("/t")
    def tagged() -> Response:
        return PlainTextResponse("t")

    async with open_client(make_app(router)) as client:
        miss = await client.get("/t")
        hit = await client.get("/t")
    assert miss.headers.get_list(tag_header) == [value]
    assert hit.headers.get_list(tag_header) == [value]


async def test_a_tags_function_that_raises_is_logged_and_nothing_is_stored(
    make_cache: MakeCache, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache()
    router = caching_router()

    def tags_of(request: Request) -> list[str]:
        raise LookupError("no tags today")

    @cache(ttl=60, tags=tags_of)
    @router.get("/t")
    def tagged() -> Response:
        return PlainTextResponse("served")

    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        async with open_client(make_app(router)) as client:
            answer = await client.get("/t")
    assert (answer.status_code, answer.text) == (200, "served")
    assert "x-cache" not in answer.headers
    messages = [r.getMessage() for r in caplog.records if r.name == "fastapi_caching_route"]
    assert messages == ["computing the route's tags failed; response not stored"]
    assert route_counters(cache)["tag_errors"] == 1


# --- what the backend is given -------------------------------------------------------------


@pytest.mark.parametrize("backend_kind", ["memory"])
async def test_an_entry_without_last_modified_reads_back_with_minus_one(
    make_cache: MakeCache,
) -> None:
    # get_cached's "last_modified" is -1 when the entry has none.
    cache = make_cache()
    router = caching_router()

    @cache(ttl=60, set_last_modified=False, key_builder=lambda request: "the-key")
    @router.get("/r")
    def resource() -> Response:
        return PlainTextResponse("r")

    async with open_client(make_app(router)) as client:
        await client.get("/r")
    stored = await cache.get_cached("the-key")
    assert stored is not None
    assert stored["last_modified"] == -1  # type: ignore[typeddict-item]


async def test_one_coding_refused_means_the_miss_is_not_marked_stored() -> None:
    # The body is stored once per coding; the store only counts as done when
    # every coding is. The identity body is over the memory store's budget,
    # the compressed ones are not.
    cache = FastAPICache(MemoryBackend(max_bytes=4000, shards=1), cache_status=True)
    router = caching_router()

    @cache(ttl=60, compress=True)
    @router.get("/doc")
    def doc() -> Response:
        return PlainTextResponse("compressible text " * 1000)

    async with open_client(make_app(router)) as client:
        answer = await client.get("/doc", headers={"accept-encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert "x-cache" not in answer.headers
    assert answer.headers.get_list("cache-status") == [f"{STATUS}; fwd=uri-miss"]
    assert route_counters(cache)["not_stored_backend_refused"] == 1


async def test_redis_is_given_the_entry_s_store_ttl(redis_url: str, clock: Clock) -> None:
    # An entry kept past its ttl (plus keep_stale) is of no use: Redis expires
    # it itself, never keeps it forever.
    import redis.asyncio

    backend = RedisBackend.from_url(redis_url, timeout=5.0)
    cache = FastAPICache(backend, keep_stale=0, invalidate_on_unsafe=False)
    router = caching_router()

    @cache(ttl=60)
    @router.get("/r")
    def resource() -> Response:
        return PlainTextResponse("r")

    try:
        async with open_client(make_app(router)) as client:
            miss = await client.get("/r")
        assert miss.headers["x-cache"] == "MISS"
        client_ = redis.asyncio.Redis.from_url(redis_url)
        try:
            keys = await client_.keys("*")
            assert keys
            ttls = [await client_.pttl(key) for key in keys]
        finally:
            await client_.aclose()
    finally:
        await backend.close()
    assert all(0 < ttl <= 60_000 for ttl in ttls), ttls


async def test_a_range_over_an_entry_written_with_a_capitalised_content_length_has_one(
    make_cache: MakeCache,
) -> None:
    # RFC 9110 section 5.1: field names are case-insensitive. An entry written
    # by hand (another app, or backend.set) may name Content-Length in any
    # case; the 206 still carries one Content-Length, the part's (section 14.2).
    cache = make_cache()
    body = b"written by hand"
    fields = ((b"Content-Type", b"text/plain"), (b"Content-Length", b"%d" % len(body)))
    entry = StoredResponse(200, fields, body, "text/plain", stored_at=time.time(), lifetime=600)
    await cache.backend.set("GET /hand", entry, ttl=600)
    router = caching_router()

    @cache()
    @router.get("/hand")
    def hand() -> str:
        return "from the endpoint"

    async with open_client(make_app(router)) as client:
        part = await client.get("/hand", headers={"range": "bytes=0-6"})
        whole = await client.get("/hand")
    assert (part.status_code, part.content) == (206, b"written")
    assert content_lengths(part) == ["7"]
    assert (whole.status_code, whole.content) == (200, body)
    assert content_lengths(whole) == [str(len(body))]
