"""ETags and If-None-Match on hits: 304 answers, what they carry, and that they
never change the stored entry."""

import re

import pytest
from conftest import Calls, MakeCache, as_kind, caching_router, make_app, open_client
from fastapi import Response
from fastapi.responses import PlainTextResponse

pytestmark = pytest.mark.anyio

BODY = "conditional body"
STRONG_ETAG = re.compile(r'^"[\x21\x23-\x7e\x80-\xff]+"$')


def _router(cache, calls: Calls, kind: str = "def", etag: str | None = None, **cache_kwargs):  # type: ignore[no-untyped-def]
    router = caching_router()

    def conditional() -> Response:
        calls()
        headers = {"etag": etag} if etag is not None else None
        return PlainTextResponse(BODY, headers=headers)

    cache(**cache_kwargs)(router.get("/c")(as_kind(kind, conditional)))
    return router


async def test_generated_etag_is_strong_quoted_and_stable(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, endpoint_kind)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/c")
        hit = await client.get("/c")
    etag = miss.headers["etag"]
    assert STRONG_ETAG.match(etag), etag
    assert not etag.startswith("W/")
    assert hit.headers.get_list("etag") == [etag]
    assert miss.headers.get_list("etag") == [etag]


async def test_generated_etag_depends_on_the_body(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/body/{text}")
    def body(text: str) -> str:
        return text

    async with open_client(make_app(router)) as client:
        one = (await client.get("/body/one")).headers["etag"]
        two = (await client.get("/body/two")).headers["etag"]
        one_again = (await client.get("/body/one")).headers["etag"]
    assert one != two
    assert one == one_again


@pytest.mark.parametrize("etag", ['"v1"', 'W/"v1"'])
async def test_endpoint_etag_is_kept(make_cache: MakeCache, etag: str) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, etag=etag)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/c")
        hit = await client.get("/c")
        not_modified = await client.get("/c", headers={"if-none-match": '"v1"'})
    assert miss.headers.get_list("etag") == [etag]
    assert hit.headers.get_list("etag") == [etag]
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == etag
    assert calls.count == 1


def _matching_values(etag: str) -> list[str]:
    opaque = etag[1:-1]
    return [
        etag,
        f'"other", {etag}',
        f'{etag}, "other"',
        f"W/{etag}",
        f'"other",W/{etag}',
        "*",
        f'"a,b", {etag}',
        f'"x, {opaque}", {etag}',
        f"  {etag}  ",
    ]


def _non_matching_values(etag: str) -> list[str]:
    opaque = etag[1:-1]
    return [
        '"other"',
        '"other", W/"another"',
        f'"{opaque}x"',
        f'"{opaque},x"',  # a single tag that merely contains the ETag's text
        f'"x,{opaque}"',
        opaque,  # unquoted: not an entity-tag
        "",
    ]


MALFORMED = [
    "garbage",
    '"unterminated',
    'W/"',
    "W/",
    '"',
    ",,,",
    '"a" "b"',
    "\x7f\x80\xff",
]


async def test_if_none_match_that_matches_is_answered_304(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _router(make_cache(), calls, vary_headers=["accept-language"])
    async with open_client(make_app(router)) as client:
        miss = await client.get("/c")
        etag = miss.headers["etag"]
        for value in _matching_values(etag):
            response = await client.get("/c", headers={"if-none-match": value})
            assert response.status_code == 304, value
            assert response.content == b"", value
            assert "content-length" not in response.headers, value
            assert "content-type" not in response.headers, value
            assert response.headers["etag"] == etag, value
            assert response.headers["x-cache"] == "HIT", value
            assert response.headers["vary"] == "accept-language", value
    assert calls.count == 1


async def test_if_none_match_that_does_not_match_gets_the_full_response(
    make_cache: MakeCache,
) -> None:
    calls = Calls()
    router = _router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/c")
        for value in _non_matching_values(miss.headers["etag"]):
            response = await client.get("/c", headers={"if-none-match": value})
            assert response.status_code == 200, value
            assert response.text == BODY, value
            assert response.headers["x-cache"] == "HIT", value
            assert response.headers["content-length"] == str(len(BODY)), value
    assert calls.count == 1


@pytest.mark.parametrize("value", MALFORMED)
async def test_malformed_if_none_match_is_ignored(make_cache: MakeCache, value: str) -> None:
    calls = Calls()
    router = _router(make_cache(), calls)
    header = value.encode("latin-1")
    async with open_client(make_app(router)) as client:
        await client.get("/c")
        response = await client.get("/c", headers=[(b"if-none-match", header)])
    assert response.status_code == 200, value
    assert response.text == BODY
    assert response.headers["x-cache"] == "HIT"
    assert calls.count == 1


async def test_a_304_never_changes_the_stored_entry(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        miss = await client.get("/c")
        etag = miss.headers["etag"]
        for _ in range(2):
            not_modified = await client.get("/c", headers={"if-none-match": etag})
            assert not_modified.status_code == 304
            plain = await client.get("/c")
            assert plain.status_code == 200
            assert plain.text == BODY
            assert plain.headers["content-length"] == str(len(BODY))
            assert plain.headers["content-type"] == miss.headers["content-type"]
            assert plain.headers["x-cache"] == "HIT"
    assert calls.count == 1


async def test_304_only_for_cached_success_responses(make_cache: MakeCache) -> None:
    # A stored 404 is replayed as such even when If-None-Match is "*".
    cache = make_cache(accepted_status_codes={200, 404})
    router = caching_router()

    @cache()
    @router.get("/gone")
    def gone() -> Response:
        return PlainTextResponse("gone", status_code=404)

    async with open_client(make_app(router)) as client:
        miss = await client.get("/gone")
        hit = await client.get("/gone", headers={"if-none-match": "*"})
    assert miss.status_code == 404
    assert (hit.status_code, hit.text, hit.headers["x-cache"]) == (404, "gone", "HIT")
