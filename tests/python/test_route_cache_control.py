"""The endpoint's Cache-Control decides what is stored and for how long; hits
carry Age; ``client_max_age`` sends a max-age never above the entry's lifetime."""

from typing import Any

import anyio
import pytest
from conftest import Calls, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import Response
from fastapi.responses import PlainTextResponse

pytestmark = pytest.mark.anyio

KEY = "cc-key"
BODY = "cache-control body"


def _router(  # type: ignore[no-untyped-def]
    cache, calls: Calls, headers: list[tuple[str, str]], *, keyed: bool = False, **kwargs: Any
):
    """GET /cc answering BODY with ``headers`` (repeats allowed). ``keyed`` gives
    the route the fixed key KEY so tests can read the stored entry."""
    router = caching_router()

    def endpoint() -> Response:
        calls()
        response = PlainTextResponse(BODY)
        for name, value in headers:
            response.headers.append(name, value)
        return response

    if keyed:
        kwargs["key_builder"] = lambda request: KEY
    cache(**kwargs)(router.get("/cc")(endpoint))
    return router


async def _get_three(router) -> list[Any]:  # type: ignore[no-untyped-def]
    # Three requests: a miss, a routed hit, and a hit the fast lane answers.
    async with open_client(make_app(router)) as client:
        return [await client.get("/cc") for _ in range(3)]


# --- storability ----------------------------------------------------------------------

NOT_STORED = [
    ("no-store", "no_store"),
    ("No-Store", "no_store"),
    ("public, no-store, max-age=60", "no_store"),
    ("private", "private"),
    ('private="set-cookie"', "private"),
    ("PRIVATE, max-age=60", "private"),
    ("max-age=0", "zero_lifetime"),
    ("s-maxage=0, max-age=60", "zero_lifetime"),
]


@pytest.mark.parametrize(("value", "verdict"), NOT_STORED)
async def test_uncacheable_response_is_not_stored(
    make_cache: MakeCache, value: str, verdict: str
) -> None:
    cache = make_cache()
    calls = Calls()
    responses = await _get_three(_router(cache, calls, [("cache-control", value)]))
    assert calls.count == 3
    for response in responses:
        assert response.status_code == 200
        assert response.text == BODY
        assert "x-cache" not in response.headers
        assert response.headers["cache-control"] == value  # passed through untouched
    assert cache.stats()["route"][f"not_stored_{verdict}"] == 3


async def test_directives_split_over_several_fields_are_combined(make_cache: MakeCache) -> None:
    calls = Calls()
    headers = [("cache-control", "public, max-age=60"), ("cache-control", "private")]
    responses = await _get_three(_router(make_cache(), calls, headers))
    assert calls.count == 3
    assert all("x-cache" not in r.headers for r in responses)


@pytest.mark.parametrize("value", ["no-store", "private", 'private="set-cookie"', "max-age=0"])
async def test_ignore_response_cache_control_stores_anyway(
    make_cache: MakeCache, value: str
) -> None:
    cache = make_cache()
    calls = Calls()
    router = _router(
        cache, calls, [("cache-control", value)], keyed=True, ignore_response_cache_control=True
    )
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/cc") for _ in range(3)]
    assert calls.count == 1
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    assert all(r.text == BODY for r in responses)
    stored = await cache.get_cached(KEY)
    assert stored is not None
    assert stored["lifetime"] == 0  # the response's max-age is ignored too


async def test_no_cache_is_stored_but_every_request_runs_the_endpoint(
    make_cache: MakeCache,
) -> None:
    # RFC 9111 section 5.2.2.4: no-cache "indicates that the response MUST NOT
    # be used to satisfy any other request without forwarding it for validation".
    cache = make_cache()
    calls = Calls()
    headers = [("cache-control", "no-cache"), ("etag", '"v1"')]
    router = _router(cache, calls, headers, keyed=True)
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/cc") for _ in range(3)]
        stored = await cache.get_cached(KEY)
    assert calls.count == 3
    assert all(r.headers.get("x-cache") != "HIT" for r in responses)
    assert stored is not None
    assert stored["revalidate"] is True


async def test_no_cache_without_a_validator_is_not_stored(make_cache: MakeCache) -> None:
    # Nothing could ever validate it: storing it would only cost memory.
    cache = make_cache()
    calls = Calls()
    router = _router(cache, calls, [("cache-control", "no-cache")], keyed=True)
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/cc") for _ in range(2)]
        stored = await cache.get_cached(KEY)
    assert calls.count == 2
    assert all("x-cache" not in r.headers for r in responses)
    assert stored is None


# --- lifetime -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "route_ttl", "lifetime"),
    [
        ("max-age=30", None, 30),
        ("public, max-age=45", None, 45),
        ("max-age=5, s-maxage=30", None, 30),  # s-maxage wins
        ("s-maxage=30, max-age=5", None, 30),
        ("s-maxage=7", None, 7),
        ("max-age=30", 7, 7),  # the route's ttl wins
        ("max-age=5, s-maxage=30", 90, 90),
        ("max-age=0", 12, 12),
        ("", None, 0),  # neither: no lifetime of its own
        ("public", 15, 15),
    ],
)
async def test_entry_lifetime(
    make_cache: MakeCache, value: str, route_ttl: float | None, lifetime: float
) -> None:
    cache = make_cache()
    calls = Calls()
    headers = [("cache-control", value)] if value else []
    router = _router(cache, calls, headers, keyed=True, ttl=route_ttl)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/cc")
        hit = await client.get("/cc")
        stored = await cache.get_cached(KEY)
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert calls.count == 1
    assert stored is not None
    assert stored["lifetime"] == lifetime


async def test_max_age_expires_the_entry(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, [("cache-control", "max-age=1")])
    async with open_client(make_app(router)) as client:
        assert (await client.get("/cc")).headers["x-cache"] == "MISS"
        assert (await client.get("/cc")).headers["x-cache"] == "HIT"
        await anyio.sleep(1.3)
        assert (await client.get("/cc")).headers["x-cache"] == "MISS"
    assert calls.count == 2


@pytest.mark.parametrize(
    "value",
    [
        "max-age=abc",
        "max-age=",
        "max-age=-5",
        "max-age=1.5",
        'max-age="',
        "s-maxage=x, max-age=60",
        ",,,",
        "no-store=",
        "=",
        "private=",
        "max-age=99999999999999999999999999",
        "\x7f\x80\xff",
        ";;;=,=\t,",
    ],
)
async def test_malformed_endpoint_cache_control_never_fails(
    make_cache: MakeCache, value: str
) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, [("cache-control", value)])
    responses = await _get_three(router)
    for response in responses:
        assert response.status_code == 200, value
        assert response.text == BODY, value
        assert response.headers.get("x-cache") in (None, "MISS", "HIT"), value


# --- Age ------------------------------------------------------------------------------


async def test_age_is_whole_seconds_since_stored(make_cache: MakeCache, clock: Clock) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, [])
    async with open_client(make_app(router)) as client:
        clock.now = 1_700_000_000.6
        miss = await client.get("/cc")
        ages = []
        for elapsed in (0.0, 0.3, 0.9, 1.0, 2.5, 59.99, 3600.4):
            clock.now = 1_700_000_000.6 + elapsed
            hit = await client.get("/cc")
            assert hit.headers["x-cache"] == "HIT"
            assert len(hit.headers.get_list("age")) == 1
            ages.append(hit.headers["age"])
        clock.now = 1_700_000_000.6 + 7.2
        not_modified = await client.get("/cc", headers={"if-none-match": miss.headers["etag"]})
    assert calls.count == 1
    assert "age" not in miss.headers
    assert ages == ["0", "0", "0", "1", "2", "59", "3600"]
    assert not_modified.status_code == 304
    assert not_modified.headers.get_list("age") == ["7"]


async def test_age_is_never_negative(make_cache: MakeCache, clock: Clock) -> None:
    router = _router(make_cache(), Calls(), [])
    async with open_client(make_app(router)) as client:
        await client.get("/cc")
        clock.now -= 30  # the wall clock stepped back
        hit = await client.get("/cc")
    assert hit.headers["age"] == "0"


async def test_the_received_age_counts_toward_the_age_of_hits(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 9111 section 4.2.3: current_age = corrected_initial_age + resident_time,
    # where the initial age is at least the received Age.
    router = _router(make_cache(), Calls(), [("age", "500")])
    async with open_client(make_app(router)) as client:
        await client.get("/cc")
        clock.now += 4
        hits = [await client.get("/cc") for _ in range(2)]
    for hit in hits:
        assert hit.headers["x-cache"] == "HIT"
        assert hit.headers.get_list("age") == ["504"]


# --- client_max_age -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_max_age", "route_ttl", "endpoint_cc", "expected"),
    [
        (30, None, None, "max-age=30"),
        (30, 60, None, "max-age=30"),
        (600, 60, None, "max-age=60"),  # never more than the entry's lifetime
        (600, None, "max-age=45", "max-age=45"),
        (600, None, "max-age=5, s-maxage=20", "max-age=20"),
        (0, 60, None, "max-age=0"),
    ],
)
async def test_client_max_age_on_miss_hit_and_304(
    make_cache: MakeCache,
    clock: Clock,
    client_max_age: int,
    route_ttl: float | None,
    endpoint_cc: str | None,
    expected: str,
) -> None:
    calls = Calls()
    headers = [("cache-control", endpoint_cc)] if endpoint_cc else []
    router = _router(make_cache(), calls, headers, ttl=route_ttl, client_max_age=client_max_age)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/cc")
        clock.now += 10  # Age grows; max-age stays the full lifetime
        hits = [await client.get("/cc") for _ in range(2)]
        not_modified = await client.get("/cc", headers={"if-none-match": miss.headers["etag"]})
    assert calls.count == 1
    assert miss.headers["x-cache"] == "MISS"
    assert [h.headers["x-cache"] for h in hits] == ["HIT", "HIT"]
    assert not_modified.status_code == 304
    for response in (miss, *hits, not_modified):
        assert response.headers.get_list("cache-control") == [expected]
    assert not_modified.headers["age"] == "10"


async def test_without_client_max_age_the_endpoint_cache_control_is_replayed(
    make_cache: MakeCache,
) -> None:
    router = _router(make_cache(), Calls(), [("cache-control", "public, max-age=60")])
    async with open_client(make_app(router)) as client:
        miss = await client.get("/cc")
        hit = await client.get("/cc")
        not_modified = await client.get("/cc", headers={"if-none-match": miss.headers["etag"]})
    for response in (miss, hit, not_modified):
        assert response.headers.get_list("cache-control") == ["public, max-age=60"]


async def test_no_cache_control_is_added_by_default(make_cache: MakeCache) -> None:
    responses = await _get_three(_router(make_cache(), Calls(), [], ttl=60))
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    assert all("cache-control" not in r.headers for r in responses)


@pytest.mark.parametrize("endpoint_cc", ["private", "no-store", "no-cache", "private, max-age=60"])
async def test_client_max_age_never_advertises_a_response_that_forbids_reuse(
    make_cache: MakeCache, endpoint_cc: str
) -> None:
    # Stored only because the route ignores its Cache-Control: clients and CDNs
    # must still see the endpoint's own restriction, not a max-age.
    router = _router(
        make_cache(),
        Calls(),
        [("cache-control", endpoint_cc)],
        ttl=60,
        client_max_age=600,
        ignore_response_cache_control=True,
    )
    async with open_client(make_app(router)) as client:
        miss = await client.get("/cc")
        hit = await client.get("/cc")
    for response in (miss, hit):
        assert response.headers.get_list("cache-control") == [endpoint_cc]
