"""Last-Modified and If-Modified-Since on hits, their precedence below
If-None-Match, and what a 304 carries."""

from typing import Any

import pytest
from conftest import Calls, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import _plan

pytestmark = pytest.mark.anyio

BODY = "dated body"
# 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (the example instant of RFC 9110 section 5.6.7).
INSTANT = 784_111_777
FORMATS = {
    "imf-fixdate": "Sun, 06 Nov 1994 08:49:37 GMT",
    "rfc850": "Sunday, 06-Nov-94 08:49:37 GMT",
    "asctime": "Sun Nov  6 08:49:37 1994",
}
BEFORE = "Sun, 06 Nov 1994 08:49:36 GMT"
AFTER = "Sun, 06 Nov 1994 08:49:38 GMT"
# Last-Modified an endpoint sets itself, and a server clock later than it.
LATER_CLOCK = 1_700_000_000.0
OWN = "Wed, 21 Oct 2015 07:28:00 GMT"
OWN_BEFORE = "Wed, 21 Oct 2015 07:27:59 GMT"
OWN_AFTER = "Thu, 22 Oct 2015 07:28:00 GMT"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The route's wall clock (``time`` inside ``_plan``), at INSTANT + 0.25 s."""
    fake = Clock(INSTANT + 0.25)
    monkeypatch.setattr(_plan, "time", fake)
    return fake


def _router(  # type: ignore[no-untyped-def]
    cache, calls: Calls, headers: dict[str, str] | None = None, status: int = 200, **kwargs: Any
):
    router = caching_router()

    @cache(**kwargs)
    @router.get("/d")
    def dated() -> Response:
        calls()
        return PlainTextResponse(BODY, status_code=status, headers=headers)

    return router


async def _responses(router, clock: Clock, *conditions: dict[str, str]) -> list[Any]:  # type: ignore[no-untyped-def]
    """A priming miss, then a minute later one request per set of request headers
    (each twice: a routed hit and a fast-lane hit must agree)."""
    async with open_client(make_app(router)) as client:
        result = [await client.get("/d")]
        clock.now += 60
        for headers in conditions:
            first = await client.get("/d", headers=headers)
            second = await client.get("/d", headers=headers)
            assert first.status_code == second.status_code, headers
            result.append(second)
    return result


# --- Last-Modified ----------------------------------------------------------------------


async def test_last_modified_is_the_store_time_by_default(
    make_cache: MakeCache, clock: Clock
) -> None:
    calls = Calls()
    async with open_client(make_app(_router(make_cache(), calls))) as client:
        miss = await client.get("/d")
        clock.now += 100
        hit = await client.get("/d")
    assert miss.headers["last-modified"] == FORMATS["imf-fixdate"]
    assert hit.headers.get_list("last-modified") == [FORMATS["imf-fixdate"]]
    assert calls.count == 1


async def test_set_last_modified_false_adds_none(make_cache: MakeCache, clock: Clock) -> None:
    router = _router(make_cache(), Calls(), set_last_modified=False)
    miss, hit = await _responses(router, clock, {})
    for response in (miss, hit):
        assert "last-modified" not in response.headers
    # Without a Last-Modified, If-Modified-Since never gives a 304.
    _, later = await _responses(
        _router(make_cache(), Calls(), set_last_modified=False), clock, {"if-modified-since": AFTER}
    )
    assert (later.status_code, later.text, later.headers["x-cache"]) == (200, BODY, "HIT")


@pytest.mark.parametrize("set_last_modified", [True, False])
async def test_endpoint_last_modified_is_kept(
    make_cache: MakeCache, clock: Clock, set_last_modified: bool
) -> None:
    clock.now = LATER_CLOCK
    router = _router(
        make_cache(), Calls(), {"last-modified": OWN}, set_last_modified=set_last_modified
    )
    miss, hit, equal, later, earlier = await _responses(
        router,
        clock,
        {},
        {"if-modified-since": OWN},
        {"if-modified-since": OWN_AFTER},
        {"if-modified-since": OWN_BEFORE},
    )
    assert miss.headers.get_list("last-modified") == [OWN]
    assert hit.headers.get_list("last-modified") == [OWN]
    assert (equal.status_code, later.status_code, earlier.status_code) == (304, 304, 200)
    assert equal.headers["last-modified"] == OWN
    assert earlier.text == BODY


# --- If-Modified-Since ------------------------------------------------------------------


async def test_if_modified_since_against_the_store_time(
    make_cache: MakeCache, clock: Clock
) -> None:
    calls = Calls()
    miss, equal, later, earlier = await _responses(
        _router(make_cache(), calls),
        clock,
        {"if-modified-since": FORMATS["imf-fixdate"]},
        {"if-modified-since": AFTER},
        {"if-modified-since": BEFORE},
    )
    assert miss.headers["x-cache"] == "MISS"
    assert (equal.status_code, later.status_code) == (304, 304)
    assert (earlier.status_code, earlier.text, earlier.headers["x-cache"]) == (200, BODY, "HIT")
    assert calls.count == 1


@pytest.mark.parametrize("fmt", sorted(FORMATS))
async def test_all_three_date_formats_give_304(
    make_cache: MakeCache, clock: Clock, fmt: str
) -> None:
    async with open_client(make_app(_router(make_cache(), Calls()))) as client:
        miss = await client.get("/d")
        clock.now += 3600  # the conditional requests come an hour later
        headers = {"if-modified-since": FORMATS[fmt]}
        responses = [await client.get("/d", headers=headers) for _ in range(2)]
    assert miss.headers["last-modified"] == FORMATS["imf-fixdate"]
    for response in responses:
        assert response.status_code == 304
        assert response.content == b""


async def test_a_date_in_the_future_is_ignored(make_cache: MakeCache, clock: Clock) -> None:
    # A date later than the server clock cannot come from our Last-Modified.
    _, response = await _responses(
        _router(make_cache(), Calls()),
        clock,
        {"if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    )
    assert (response.status_code, response.text) == (200, BODY)


MALFORMED_DATES = [
    "garbage",
    "",
    "   ",
    "Sun, 32 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 25:49:37 GMT",
    "Sun, 06 Foo 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37",
    f"{FORMATS['imf-fixdate']}, {FORMATS['imf-fixdate']}",
    "784111777",
    "Sun, 06 Nov 99999999999999999999 08:49:37 GMT",
    "\x7f\x80\xff",
    ",,,",
]


@pytest.mark.parametrize("value", MALFORMED_DATES)
async def test_malformed_if_modified_since_is_ignored(
    make_cache: MakeCache, clock: Clock, value: str
) -> None:
    calls = Calls()
    clock.now += 3600
    router = _router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        await client.get("/d")
        header = [(b"if-modified-since", value.encode("latin-1"))]
        responses = [await client.get("/d", headers=header) for _ in range(2)]
    for response in responses:
        assert (response.status_code, response.text, response.headers["x-cache"]) == (
            200,
            BODY,
            "HIT",
        ), value
    assert calls.count == 1


async def test_if_none_match_takes_precedence(make_cache: MakeCache, clock: Clock) -> None:
    router = _router(make_cache(), Calls())
    async with open_client(make_app(router)) as client:
        etag = (await client.get("/d")).headers["etag"]
        clock.now += 60  # AFTER is then in the past: If-Modified-Since alone would say 304
        no_match_but_unmodified = [
            await client.get("/d", headers={"if-none-match": '"other"', "if-modified-since": AFTER})
            for _ in range(2)
        ]
        match_but_modified = [
            await client.get("/d", headers={"if-none-match": etag, "if-modified-since": BEFORE})
            for _ in range(2)
        ]
        malformed_inm = await client.get(
            "/d", headers={"if-none-match": "garbage", "if-modified-since": AFTER}
        )
    for response in no_match_but_unmodified:
        assert (response.status_code, response.text) == (200, BODY)
    for response in match_but_modified:
        assert response.status_code == 304
    # A present If-None-Match decides alone, even a malformed one.
    assert malformed_inm.status_code == 200


# --- what a 304 carries -----------------------------------------------------------------

ENDPOINT_HEADERS = {
    "etag": '"v7"',
    "last-modified": OWN,
    "cache-control": "public, max-age=600",
    "vary": "Accept-Encoding",
    "expires": "Thu, 01 Dec 2033 16:00:00 GMT",
    "content-location": "/documents/d.txt",
    "date": "Tue, 14 Nov 2023 22:13:20 GMT",  # LATER_CLOCK: the response is new
    "x-custom": "kept on 200 only",
}
CARRIED = ("etag", "last-modified", "cache-control", "vary", "expires", "content-location", "date")


@pytest.mark.parametrize(
    "condition", [{"if-none-match": '"v7"'}, {"if-modified-since": OWN}], ids=["inm", "ims"]
)
async def test_what_a_304_carries(
    make_cache: MakeCache, clock: Clock, condition: dict[str, str]
) -> None:
    calls = Calls()
    clock.now = LATER_CLOCK
    router = _router(make_cache(), calls, ENDPOINT_HEADERS)
    miss, not_modified = await _responses(router, clock, condition)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    for name in CARRIED:
        assert not_modified.headers.get_list(name) == [ENDPOINT_HEADERS[name]], name
    assert not_modified.headers["x-cache"] == "HIT"
    assert not_modified.headers.get_list("age") == ["60"]
    for name in ("content-length", "content-type", "transfer-encoding"):
        assert name not in not_modified.headers, name
    assert miss.headers["content-type"].startswith("text/plain")
    assert calls.count == 1


async def test_304_with_generated_validators(make_cache: MakeCache, clock: Clock) -> None:
    router = _router(make_cache(), Calls(), client_max_age=30)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/d")
        clock.now += 60
        for headers in ({"if-none-match": miss.headers["etag"]}, {"if-modified-since": AFTER}):
            response = await client.get("/d", headers=headers)
            assert response.status_code == 304
            assert response.headers["etag"] == miss.headers["etag"]
            assert response.headers["last-modified"] == miss.headers["last-modified"]
            assert response.headers["cache-control"] == "max-age=30"
            assert "content-length" not in response.headers
            assert "content-type" not in response.headers


@pytest.mark.parametrize("status", [203, 404, 410])
async def test_no_304_for_a_stored_non_2xx_status(
    make_cache: MakeCache, clock: Clock, status: int
) -> None:
    clock.now = LATER_CLOCK
    cache = make_cache(accepted_status_codes={status})
    router = _router(cache, Calls(), {"etag": '"v1"', "last-modified": OWN}, status=status)
    miss, *answers = await _responses(
        router,
        clock,
        {"if-modified-since": OWN_AFTER},
        {"if-none-match": '"v1"'},
        {"if-none-match": "*"},
    )
    assert miss.status_code == status
    expected = 304 if 200 <= status < 300 else status
    for response in answers:
        assert response.status_code == expected
        assert response.headers["x-cache"] == "HIT"
