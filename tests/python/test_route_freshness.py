"""Freshness (RFC 9111 section 4.2) and revalidation (section 4.3) through a route.

The route's clock is `time` inside `_plan`; tests move it by hand.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from conftest import CLOCK_START, Calls, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio

NOW = CLOCK_START  # the clock fixture starts here
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"
PLUS_60 = "Tue, 14 Nov 2023 22:14:20 GMT"
MINUS_DAY = "Mon, 13 Nov 2023 22:13:20 GMT"


class Origin:
    """GET /r answering with `headers`; counts calls and records what it was asked."""

    def __init__(self, headers: dict[str, str], *, honours_conditions: bool = False) -> None:
        self.headers = headers
        self.honours = honours_conditions
        self.calls = 0
        self.asked: list[dict[str, str]] = []
        self.body = "v1"

    def router(self, cache: Any, **options: Any) -> Any:
        router = caching_router()

        @cache(**options)
        @router.get("/r")
        def resource(request: Request) -> Response:
            self.calls += 1
            self.asked.append(dict(request.headers))
            etag = self.headers.get("etag")
            if self.honours and etag and request.headers.get("if-none-match") == etag:
                fresh = {k: v for k, v in self.headers.items() if k != "content-type"}
                return Response(status_code=304, headers=fresh)
            return PlainTextResponse(f"{self.body}|{self.calls}", headers=self.headers)

        return router


async def _statuses(client: Any, clock: Clock, *steps: float) -> list[tuple[str, str | None]]:
    out = []
    for step in steps:
        clock.now = NOW + step
        r = await client.get("/r")
        out.append((r.text, r.headers.get("x-cache")))
    return out


# --- lifetime -----------------------------------------------------------------------


async def test_expires_minus_date_is_the_lifetime(make_cache: MakeCache, clock: Clock) -> None:
    # Section 4.2.1: "If the Expires response header field is present, use its
    # value minus the value of the Date response header field".
    origin = Origin({"date": DATE, "expires": PLUS_60})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        answers = await _statuses(client, clock, 0, 59, 61)
    assert answers[:2] == [("v1|1", "MISS"), ("v1|1", "HIT")]
    assert answers[2][0] == "v1|2"  # stale at 60 s: asked again
    assert origin.calls == 2


@pytest.mark.parametrize("expires", ["0", "yesterday", DATE, MINUS_DAY, f"{PLUS_60}, {PLUS_60}"])
async def test_an_invalid_or_past_expires_is_stale(
    make_cache: MakeCache, clock: Clock, expires: str
) -> None:
    # Section 5.3: "A cache recipient MUST interpret invalid date formats,
    # especially the value "0", as representing a time in the past".
    origin = Origin({"date": DATE, "expires": expires})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        answers = await _statuses(client, clock, 0, 1, 2)
    assert all(cache != "HIT" for _, cache in answers)
    assert origin.calls == 3


async def test_max_age_wins_over_expires(make_cache: MakeCache, clock: Clock) -> None:
    origin = Origin({"date": DATE, "expires": "0", "cache-control": "max-age=100"})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        answers = await _statuses(client, clock, 0, 50)
    assert answers == [("v1|1", "MISS"), ("v1|1", "HIT")]


async def test_the_received_age_shortens_the_lifetime(make_cache: MakeCache, clock: Clock) -> None:
    # Section 4.2.3: the current age starts from the Age the response came with.
    origin = Origin({"cache-control": "max-age=100", "age": "90"})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        hit = await _statuses(client, clock, 0, 5)
        stale = await _statuses(client, clock, 11)
        fresh = await client.get("/r")
    assert hit == [("v1|1", "MISS"), ("v1|1", "HIT")]
    assert stale[0][0] == "v1|2"
    assert fresh.headers["age"] == "90"  # the new response's own Age


async def test_a_response_older_than_its_lifetime_is_not_reused(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin({"cache-control": "max-age=60", "age": "120"})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        answers = await _statuses(client, clock, 0, 1)
    assert all(cache != "HIT" for _, cache in answers)
    assert origin.calls == 2


async def test_an_old_date_makes_the_response_old(make_cache: MakeCache, clock: Clock) -> None:
    # apparent_age = max(0, response_time - date_value).
    origin = Origin({"cache-control": "max-age=3600", "date": MINUS_DAY})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        answers = await _statuses(client, clock, 0, 1)
    assert all(cache != "HIT" for _, cache in answers)


async def test_the_route_ttl_wins(make_cache: MakeCache, clock: Clock) -> None:
    origin = Origin({"cache-control": "max-age=5", "expires": "0"})
    async with open_client(make_app(origin.router(make_cache(), ttl=100))) as client:
        answers = await _statuses(client, clock, 0, 50, 99)
    assert [a[1] for a in answers] == ["MISS", "HIT", "HIT"]


# --- no explicit freshness ------------------------------------------------------------


async def test_without_explicit_freshness_entries_stay_as_in_0_6_0(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin({})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        answers = await _statuses(client, clock, 0, 86400 * 30)
    assert answers == [("v1|1", "MISS"), ("v1|1", "HIT")]


async def test_shared_cache_freshness_revalidates_such_responses(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin({"etag": '"e1"'}, honours_conditions=True)
    cache = make_cache(shared_cache_freshness=True)
    async with open_client(make_app(origin.router(cache))) as client:
        answers = await _statuses(client, clock, 0, 1)
    assert answers == [("v1|1", "MISS"), ("v1|1", "HIT")]  # validated: 304, then the entry
    assert origin.calls == 2
    assert origin.asked[1]["if-none-match"] == '"e1"'


async def test_heuristic_freshness_from_last_modified(make_cache: MakeCache, clock: Clock) -> None:
    # Section 4.2.2: "a typical setting of this fraction might be 10%".
    origin = Origin({"date": DATE, "last-modified": MINUS_DAY})  # one day old: 8640 s
    cache = make_cache(shared_cache_freshness=True, heuristic_freshness=True)
    async with open_client(make_app(origin.router(cache, set_last_modified=False))) as client:
        answers = await _statuses(client, clock, 0, 8000, 8700)
    assert [a[1] for a in answers][:2] == ["MISS", "HIT"]
    assert answers[2][0] == "v1|2"


# --- revalidation -----------------------------------------------------------------------


async def test_a_stale_entry_is_revalidated_and_a_304_freshens_it(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 4.3.1: the cache "generates a conditional request ... with one or
    # more precondition header fields containing validator metadata".
    origin = Origin(
        {"cache-control": "max-age=10", "etag": '"e1"', "x-version": "1"},
        honours_conditions=True,
    )
    async with open_client(make_app(origin.router(make_cache()))) as client:
        await _statuses(client, clock, 0)
        origin.headers["x-version"] = "2"
        clock.now = NOW + 20
        revalidated = await client.get("/r")
        clock.now = NOW + 25
        hit = await client.get("/r")
    assert origin.asked[1]["if-none-match"] == '"e1"'
    assert (revalidated.status_code, revalidated.text) == (200, "v1|1")  # the stored body
    # Section 4.3.4: the 304's fields replace the stored ones.
    assert revalidated.headers["x-version"] == "2"
    assert (hit.text, hit.headers["x-cache"], hit.headers["x-version"]) == ("v1|1", "HIT", "2")
    assert hit.headers["age"] == "5"  # freshened at +20
    assert origin.calls == 2


async def test_a_client_conditional_during_revalidation_gets_a_304(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin({"cache-control": "max-age=10", "etag": '"e1"'}, honours_conditions=True)
    async with open_client(make_app(origin.router(make_cache()))) as client:
        await _statuses(client, clock, 0)
        clock.now = NOW + 20
        conditional = await client.get("/r", headers={"if-none-match": '"e1"'})
    assert conditional.status_code == 304
    assert origin.asked[1]["if-none-match"] == '"e1"'


async def test_a_changed_resource_replaces_the_stale_entry(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin({"cache-control": "max-age=10", "etag": '"e1"'}, honours_conditions=True)
    async with open_client(make_app(origin.router(make_cache()))) as client:
        await _statuses(client, clock, 0)
        origin.headers["etag"] = '"e2"'
        origin.body = "v2"
        answers = await _statuses(client, clock, 20, 21)
    assert answers == [("v2|2", "MISS"), ("v2|2", "HIT")]


async def test_the_generated_etag_is_the_validator_of_an_entry_without_one(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin({"cache-control": "max-age=10"})
    async with open_client(make_app(origin.router(make_cache(), set_last_modified=False))) as c:
        clock.now = NOW
        miss = await c.get("/r")
        clock.now = NOW + 20
        again = await c.get("/r")
    assert origin.asked[1]["if-none-match"] == miss.headers["etag"]
    assert "if-modified-since" not in origin.asked[1]
    assert again.text == "v1|2"  # the endpoint ignored it: a new response


async def test_concurrent_revalidations_ask_the_endpoint_once(
    make_cache: MakeCache, clock: Clock
) -> None:
    calls = Calls()
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/slow")
    async def slow(request: Request) -> Response:
        calls()
        if calls.count > 1:
            await anyio.sleep(0.2)
            if request.headers.get("if-none-match") == '"s"':
                return Response(status_code=304, headers={"etag": '"s"'})
        return PlainTextResponse("slow", headers={"cache-control": "max-age=10", "etag": '"s"'})

    async with open_client(make_app(router)) as client:
        await client.get("/slow")
        clock.now = NOW + 20
        results: list[str] = []

        async def one() -> None:
            results.append((await client.get("/slow")).text)

        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(one)
    assert results == ["slow"] * 5
    assert calls.count == 2


async def test_must_revalidate_is_never_served_stale(make_cache: MakeCache, clock: Clock) -> None:
    origin = Origin({"cache-control": "max-age=10, must-revalidate", "etag": '"m"'})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        answers = await _statuses(client, clock, 0, 5, 20)
    assert [a[1] for a in answers[:2]] == ["MISS", "HIT"]
    assert answers[2][0] == "v1|2"
    assert origin.asked[1]["if-none-match"] == '"m"'


# --- what the request accepts (section 5.2.1), when the route honours it ---------------


async def _asking(
    make_cache: MakeCache,
    clock: Clock,
    origin: Origin,
    after: float,
    *asks: str,
    honour: bool = True,
) -> list[Any]:
    """Store at NOW, then at NOW + after send one request per Cache-Control value."""
    cache = make_cache(cache_status=True)
    router = origin.router(cache, honor_request_cache_control=honour)
    async with open_client(make_app(router)) as client:
        await client.get("/r")
        clock.now = NOW + after
        return [await client.get("/r", headers={"cache-control": ask}) for ask in asks]


async def test_a_request_max_age_asks_for_a_younger_response(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 5.2.1.1: "the client prefers a response whose age is less than or
    # equal to the specified number of seconds"; the entry is revalidated.
    origin = Origin({"cache-control": "max-age=100", "etag": '"a"'}, honours_conditions=True)
    young, old = await _asking(make_cache, clock, origin, 30, "max-age=60", "max-age=10")
    assert young.headers["x-cache"] == "HIT"
    assert (old.status_code, old.text) == (200, "v1|1")  # the endpoint said 304
    assert _params(old.headers["cache-status"])[1:3] == ["fwd=request", "fwd-status=304"]
    assert origin.calls == 2 and origin.asked[-1]["if-none-match"] == '"a"'


async def test_a_request_min_fresh_asks_for_freshness_left(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 5.2.1.3: "a response whose freshness lifetime is no less than its
    # current age plus the specified time"; 70 seconds are left here.
    origin = Origin({"cache-control": "max-age=100"})
    enough, short = await _asking(make_cache, clock, origin, 30, "min-fresh=60", "min-fresh=80")
    assert (enough.text, enough.headers["x-cache"]) == ("v1|1", "HIT")
    assert short.text == "v1|2" and short.headers.get("x-cache") != "HIT"
    assert "fwd=request" in short.headers["cache-status"]


async def test_a_request_max_stale_accepts_a_stale_response(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 5.2.1.2: "a response that has exceeded its freshness lifetime by no
    # more than the specified number of seconds"; bare, "a stale response of any
    # age". Stale by 20 seconds here.
    origin = Origin({"cache-control": "max-age=10", "etag": '"a"'})
    within, bare, beyond = await _asking(
        make_cache, clock, origin, 30, "max-stale=60", "max-stale", "max-stale=5"
    )
    assert [(r.text, r.headers["x-cache"]) for r in (within, bare)] == [("v1|1", "HIT")] * 2
    assert within.headers["age"] == "30"
    assert beyond.text == "v1|2"


async def test_max_stale_never_reaches_a_must_revalidate_entry(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 5.2.2.2: once stale, "a cache MUST NOT reuse that response ...
    # until it has been successfully validated by the origin".
    origin = Origin({"cache-control": "max-age=10, must-revalidate", "etag": '"a"'})
    (answer,) = await _asking(make_cache, clock, origin, 30, "max-stale")
    assert answer.text == "v1|2"


async def test_the_request_s_freshness_limits_count_only_when_honoured(
    make_cache: MakeCache, clock: Clock
) -> None:
    origin = Origin({"cache-control": "max-age=100"})
    answers = await _asking(
        make_cache, clock, origin, 30, "max-age=10", "min-fresh=90", honour=False
    )
    assert [(r.text, r.headers["x-cache"]) for r in answers] == [("v1|1", "HIT")] * 2


# --- fields a cache never stores ------------------------------------------------------


async def test_hop_by_hop_and_proxy_fields_are_not_stored(make_cache: MakeCache) -> None:
    # RFC 9110 section 7.6.1 and RFC 9111 section 3.1.
    origin = Origin(
        {
            "connection": "x-private-hop",
            "x-private-hop": "secret",
            "keep-alive": "timeout=5",
            "proxy-authenticate": "Basic",
            "x-kept": "yes",
        }
    )
    async with open_client(make_app(origin.router(make_cache()))) as client:
        await client.get("/r")
        hit = await client.get("/r")
    assert hit.headers["x-cache"] == "HIT"
    assert hit.headers["x-kept"] == "yes"
    for name in ("connection", "x-private-hop", "keep-alive", "proxy-authenticate"):
        assert name not in hit.headers, name


async def test_a_revalidation_counts_one_lookup_per_request(clock: Clock) -> None:
    # The native hit path counts the lookup that found the stale entry; reading
    # that entry again to revalidate it must not count a second one.
    cache = FastAPICache()
    origin = Origin({"cache-control": "max-age=10", "etag": '"e1"'}, honours_conditions=True)
    async with open_client(make_app(origin.router(cache))) as client:
        await _statuses(client, clock, 0, 20)
    stats = cache.backend.stats()
    assert origin.calls == 2
    assert stats["hits"] + stats["misses"] == 2, stats


def _params(cache_status: str) -> list[str]:
    """The parameters of a one-member Cache-Status (RFC 9211), name first."""
    return [part.strip() for part in cache_status.split(";")]


class ChangedOrigin:
    """GET /r whose representation changed: a conditional request gets a 304
    naming the new ETag ("e2"), a plain one the new body."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    def router(self, cache: Any) -> Any:
        router = caching_router()

        @cache()
        @router.get("/r")
        def resource(request: Request) -> Response:
            self.asked.append(dict(request.headers))
            fields = {"cache-control": "max-age=10"}
            if len(self.asked) == 1:
                return PlainTextResponse("v1", headers={**fields, "etag": '"e1"'})
            if "if-none-match" in request.headers:
                return Response(status_code=304, headers={**fields, "etag": '"e2"'})
            return PlainTextResponse("v2", headers={**fields, "etag": '"e2"'})

        return router


async def test_a_304_for_another_representation_is_followed_by_a_plain_request(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 4.3.3: a 304 whose ETag is not the stored one's selects no stored
    # response, so it cannot freshen it; the client asked for the whole response,
    # so the cache asks again without its own conditions and stores the answer.
    origin = ChangedOrigin()
    cache = make_cache(cache_status=True)
    async with open_client(make_app(origin.router(cache))) as client:
        await _statuses(client, clock, 0)
        clock.now = NOW + 20
        again = await client.get("/r")
        clock.now = NOW + 21
        hit = await client.get("/r")
    assert [a.get("if-none-match") for a in origin.asked] == [None, '"e1"', None]
    assert (again.status_code, again.text, again.headers["etag"]) == (200, "v2", '"e2"')
    assert _params(again.headers["cache-status"])[1:4] == [
        "fwd=stale",
        "fwd-status=304",
        "detail=mismatch",
    ]
    assert (hit.text, hit.headers["x-cache"]) == ("v2", "HIT")


async def test_a_clients_own_conditional_gets_the_304_of_another_representation(
    make_cache: MakeCache, clock: Clock
) -> None:
    # The client already holds "e2": the endpoint's 304 answers it (section
    # 4.3.2), though it cannot freshen the stored "e1".
    origin = ChangedOrigin()
    async with open_client(make_app(origin.router(make_cache()))) as client:
        await _statuses(client, clock, 0)
        clock.now = NOW + 20
        answer = await client.get("/r", headers={"if-none-match": '"e2"'})
    assert (answer.status_code, answer.headers["etag"]) == (304, '"e2"')
    assert len(origin.asked) == 2
