"""Safety defaults of SPEC section 5 on the request side: Authorization,
Set-Cookie, request Cache-Control/Pragma, and malformed request headers."""

from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse

pytestmark = pytest.mark.anyio

ALICE = {"authorization": "Bearer alice"}
BOB = {"authorization": "Bearer bob"}


def _router(cache, calls: Calls, *, declared: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
    """GET /r answering who asked and how many times the endpoint ran;
    ``declared``: the endpoint declares Authorization as a header parameter."""
    router = caching_router()

    if declared:

        @cache(**kwargs)
        @router.get("/r")
        def who_declared(authorization: str | None = Header(default=None)) -> PlainTextResponse:
            calls()
            return PlainTextResponse(f"{authorization}|{calls.count}")

        return router

    @cache(**kwargs)
    @router.get("/r")
    def who(request: Request) -> PlainTextResponse:
        calls()
        return PlainTextResponse(f"{request.headers.get('authorization')}|{calls.count}")

    return router


# --- Authorization ----------------------------------------------------------------------


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_authorization_is_neither_served_nor_stored(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    cache = make_cache(fast_lane=fast_lane)
    calls = Calls()
    async with open_client(make_app(_router(cache, calls))) as client:
        anonymous = [await client.get("/r") for _ in range(3)]  # stored; lane learns the path
        private = [await client.get("/r", headers=ALICE) for _ in range(3)]
        odd_case = await client.get("/r", headers={"AuthoriZation": "Bearer alice"})
        empty = await client.get("/r", headers={"authorization": ""})
        anonymous_again = await client.get("/r")
    assert [r.headers["x-cache"] for r in anonymous] == ["MISS", "HIT", "HIT"]
    assert [r.text for r in private] == ["Bearer alice|2", "Bearer alice|3", "Bearer alice|4"]
    for response in (*private, odd_case, empty):
        assert response.status_code == 200
        assert "x-cache" not in response.headers
        assert "age" not in response.headers
    assert odd_case.text == "Bearer alice|5"
    assert (anonymous_again.text, anonymous_again.headers["x-cache"]) == ("None|1", "HIT")
    assert calls.count == 6
    assert cache.stats()["route"]["bypass_authorization"] == 5


def _early_check(authorization: str | None = Header(default=None)) -> None:
    if authorization not in (None, "Bearer alice", "Bearer bob"):
        raise HTTPException(status_code=401)


OPT_OUTS = {
    "declared": {"declared": True},
    "key_builder": {"key_builder": lambda request: "k:" + request.headers.get("authorization", "")},
    "vary_headers": {"vary_headers": ["Accept", "Authorization"]},
}


@pytest.mark.parametrize("opt_out", sorted(OPT_OUTS))
async def test_each_opt_out_makes_authorization_cacheable(
    make_cache: MakeCache, opt_out: str
) -> None:
    cache = make_cache()
    calls = Calls()
    router = _router(cache, calls, **OPT_OUTS[opt_out])
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/r", headers=ALICE) for _ in range(3)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    assert all(r.text == "Bearer alice|1" for r in responses)
    assert calls.count == 1
    assert "bypass_authorization" not in cache.stats()["route"]


@pytest.mark.parametrize("opt_out", ["declared", "key_builder", "vary_headers"])
async def test_identities_in_the_key_get_separate_entries(
    make_cache: MakeCache, opt_out: str
) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, **OPT_OUTS[opt_out])
    async with open_client(make_app(router)) as client:
        alice = await client.get("/r", headers=ALICE)
        bob = await client.get("/r", headers=BOB)
        anonymous = await client.get("/r")
        hits = [await client.get("/r", headers=h) for h in (ALICE, BOB, ALICE, BOB)]
        anonymous_hit = await client.get("/r")
    assert [r.text for r in (alice, bob, anonymous)] == ["Bearer alice|1", "Bearer bob|2", "None|3"]
    assert [r.headers["x-cache"] for r in (alice, bob, anonymous)] == ["MISS"] * 3
    assert [r.text for r in hits] == ["Bearer alice|1", "Bearer bob|2"] * 2
    assert all(r.headers["x-cache"] == "HIT" for r in hits)
    assert anonymous_hit.text == "None|3"
    assert calls.count == 3


async def test_shared_serves_one_entry_to_everyone(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, shared=True)
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/r", headers=h) for h in ({}, ALICE, BOB, {}, ALICE)]
    assert all(r.text == "None|1" for r in responses)
    assert calls.count == 1


def _public_router(cache, calls: Calls, cache_control: str | None):  # type: ignore[no-untyped-def]
    router = caching_router()

    @cache(shared=True)
    @router.get("/r")
    def who(request: Request) -> PlainTextResponse:
        calls()
        headers = {} if cache_control is None else {"cache-control": cache_control}
        text = f"{request.headers.get('authorization')}|{calls.count}"
        return PlainTextResponse(text, headers=headers)

    return router


@pytest.mark.parametrize(
    ("cache_control", "stored"),
    [
        (None, False),
        ("max-age=60", False),
        ("public", True),
        ("s-maxage=60", True),
        ("must-revalidate", True),
    ],
)
async def test_shared_stores_an_authorized_response_only_when_it_allows_that(
    make_cache: MakeCache, cache_control: str | None, stored: bool
) -> None:
    # RFC 9111 section 3.5: "A shared cache MUST NOT use a cached response to a
    # request with an Authorization header field ... unless ... must-revalidate
    # ... public ... s-maxage".
    cache = make_cache()
    calls = Calls()
    router = _public_router(cache, calls, cache_control)
    async with open_client(make_app(router)) as client:
        first = await client.get("/r", headers=ALICE)
        second = await client.get("/r", headers=BOB)
    assert first.text == "Bearer alice|1"
    if stored:
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
        assert second.text == "Bearer alice|1"
    else:
        assert "x-cache" not in first.headers
        assert second.text == "Bearer bob|2"
        assert cache.stats()["route"]["not_stored_authorization"] == 2


async def test_an_early_dependency_guards_but_does_not_share_authorized_responses(
    make_cache: MakeCache,
) -> None:
    # SPEC section 5: early dependencies prove the caller may see the response,
    # not that every caller gets the same one (RFC 9111 section 3.5).
    cache = make_cache()
    calls = Calls()
    router = _router(cache, calls, dependencies=[Depends(_early_check)])
    async with open_client(make_app(router)) as client:
        alice = await client.get("/r", headers=ALICE)
        bob = await client.get("/r", headers=BOB)
        denied = await client.get("/r", headers={"authorization": "Bearer mallory"})
    assert (alice.text, bob.text) == ("Bearer alice|1", "Bearer bob|2")
    assert all("x-cache" not in r.headers for r in (alice, bob))
    assert denied.status_code == 401
    assert calls.count == 2
    assert cache.stats()["route"]["bypass_authorization"] == 2  # mallory never got past the guard


# --- Set-Cookie -------------------------------------------------------------------------


def _cookie_router(cache, calls: Calls, *, injected: bool, **kwargs: Any):  # type: ignore[no-untyped-def]
    router = caching_router()

    if injected:

        def endpoint(response: Response) -> str:
            calls()
            response.set_cookie("session", "s3cret")
            return "with cookie"

    else:

        def endpoint() -> Response:  # type: ignore[misc]
            calls()
            response = PlainTextResponse('"with cookie"')
            response.set_cookie("session", "s3cret")
            return response

    cache(**kwargs)(router.get("/cookie")(endpoint))
    return router


@pytest.mark.parametrize("injected", [True, False], ids=["injected-response", "returned"])
async def test_set_cookie_responses_are_not_stored(make_cache: MakeCache, injected: bool) -> None:
    cache = make_cache()
    calls = Calls()
    router = _cookie_router(cache, calls, injected=injected)
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/cookie") for _ in range(3)]
    assert calls.count == 3
    for response in responses:
        assert response.headers["set-cookie"].startswith("session=s3cret")
        assert "x-cache" not in response.headers
    assert cache.stats()["route"]["not_stored_set_cookie"] == 3


@pytest.mark.parametrize("injected", [True, False], ids=["injected-response", "returned"])
async def test_store_set_cookie_opts_in(make_cache: MakeCache, injected: bool) -> None:
    calls = Calls()
    router = _cookie_router(make_cache(), calls, injected=injected, store_set_cookie=True)
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/cookie") for _ in range(3)]
    assert calls.count == 1
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    for response in responses:
        assert response.headers.get_list("set-cookie") == [responses[0].headers["set-cookie"]]


# --- request Cache-Control and Pragma ---------------------------------------------------

REQUEST_DIRECTIVES = [
    {"cache-control": "no-cache"},
    {"cache-control": "max-age=0"},
    {"cache-control": "no-store"},
    {"cache-control": "no-cache, no-store"},
    {"pragma": "no-cache"},
]


@pytest.mark.parametrize("headers", REQUEST_DIRECTIVES)
async def test_request_directives_are_ignored_by_default(
    make_cache: MakeCache, headers: dict[str, str]
) -> None:
    calls = Calls()
    async with open_client(make_app(_router(make_cache(), calls))) as client:
        await client.get("/r")
        responses = [await client.get("/r", headers=headers) for _ in range(3)]
    assert calls.count == 1
    assert all((r.headers["x-cache"], r.text) == ("HIT", "None|1") for r in responses)


@pytest.mark.parametrize(
    "headers",
    [
        {"cache-control": "no-cache"},
        {"cache-control": "NO-CACHE"},
        {"cache-control": "max-age=0"},
        {"pragma": "no-cache"},
    ],
)
async def test_honoured_no_cache_bypasses_the_lookup_and_refreshes(
    make_cache: MakeCache, headers: dict[str, str]
) -> None:
    cache = make_cache()
    calls = Calls()
    router = _router(cache, calls, honor_request_cache_control=True)
    async with open_client(make_app(router)) as client:
        first = [await client.get("/r") for _ in range(3)]
        forced = [await client.get("/r", headers=headers) for _ in range(2)]
        after = await client.get("/r")
    assert [r.text for r in first] == ["None|1"] * 3
    assert [r.text for r in forced] == ["None|2", "None|3"]
    assert all(r.headers.get("x-cache") != "HIT" for r in forced)
    assert (after.text, after.headers["x-cache"]) == ("None|3", "HIT")  # the refreshed entry
    assert cache.stats()["route"]["bypass_request_no_cache"] == 2


async def test_pragma_is_ignored_when_cache_control_is_present(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, honor_request_cache_control=True)
    async with open_client(make_app(router)) as client:
        await client.get("/r")
        response = await client.get(
            "/r", headers={"cache-control": "max-age=60", "pragma": "no-cache"}
        )
    assert (response.headers["x-cache"], calls.count) == ("HIT", 1)


async def test_honoured_no_store_skips_storing(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, honor_request_cache_control=True)
    no_store = {"cache-control": "no-store"}
    async with open_client(make_app(router)) as client:
        unstored = [await client.get("/r", headers=no_store) for _ in range(2)]
        miss = await client.get("/r")
        hit_despite_no_store = await client.get("/r", headers=no_store)
    assert [r.text for r in unstored] == ["None|1", "None|2"]
    assert all("x-cache" not in r.headers for r in unstored)
    assert (miss.text, miss.headers["x-cache"]) == ("None|3", "MISS")
    assert (hit_despite_no_store.text, hit_despite_no_store.headers["x-cache"]) == ("None|3", "HIT")


# --- malformed request headers ----------------------------------------------------------

GARBAGE = [
    "garbage",
    "",
    ",,,",
    '"',
    "W/",
    "=",
    "no-cache=",
    "max-age=abc",
    "max-age=-1",
    "max-age=99999999999999999999999",
    "Sun, 32 Nov 1994 08:49:37 GMT",
    "\x7f\x80\xff",
    "\t \t",
    "a" * 8000,
]


@pytest.mark.parametrize("name", ["if-none-match", "if-modified-since", "cache-control", "pragma"])
@pytest.mark.parametrize("value", GARBAGE, ids=range(len(GARBAGE)))
async def test_malformed_request_headers_never_fail(
    make_cache: MakeCache, name: str, value: str
) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, honor_request_cache_control=True)
    header = [(name.encode(), value.encode("latin-1"))]
    async with open_client(make_app(router)) as client:
        cold = await client.get("/r", headers=header)
        warm = [await client.get("/r", headers=header) for _ in range(3)]
    for response in (cold, *warm):
        assert response.status_code == 200, (name, value)
        assert response.text.startswith("None|")
