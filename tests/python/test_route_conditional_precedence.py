"""If-None-Match, when present, decides alone -- at the route, on every backend.

RFC 9110 section 13.1.3: "A recipient MUST ignore If-Modified-Since if the
request contains an If-None-Match header field". An entity-tag that does not
match is a full 200 even when the entry was not modified since the given date.
The endpoint sets its own Last-Modified far in the past, so the date in
If-Modified-Since is valid and not in the future on any clock: alone, it
gives a 304.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Response
from fastapi.responses import PlainTextResponse

pytestmark = pytest.mark.anyio

BODY = "precedence body"
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
LATER = "Thu, 22 Oct 2015 07:28:00 GMT"
EARLIER = "Tue, 20 Oct 2015 07:28:00 GMT"


async def _answers(make_cache: MakeCache, *conditions: dict[str, str]) -> list[Any]:
    """A priming miss, then each set of request headers twice (a routed hit and
    a fast-lane hit, which must agree); returns the second answer of each."""
    router = caching_router()
    calls = Calls()

    @make_cache()()
    @router.get("/p")
    def dated() -> Response:
        calls()
        return PlainTextResponse(BODY, headers={"etag": ETAG, "last-modified": LAST_MODIFIED})

    answers = []
    async with open_client(make_app(router)) as client:
        assert (await client.get("/p")).headers["x-cache"] == "MISS"
        for headers in conditions:
            first = await client.get("/p", headers=headers)
            second = await client.get("/p", headers=headers)
            assert first.status_code == second.status_code, headers
            answers.append(second)
    assert calls.count == 1
    return answers


@pytest.mark.parametrize("since", [LAST_MODIFIED, LATER])
async def test_if_modified_since_alone_gives_304(make_cache: MakeCache, since: str) -> None:
    # The control for the tests below: this date, alone, says "not modified".
    [answer] = await _answers(make_cache, {"if-modified-since": since})
    assert answer.status_code == 304
    assert answer.content == b""


@pytest.mark.parametrize("if_none_match", ['"other"', 'W/"other", "v2"', "garbage", '""'])
@pytest.mark.parametrize("since", [LAST_MODIFIED, LATER])
async def test_a_non_matching_if_none_match_gets_200_whatever_if_modified_since_says(
    make_cache: MakeCache, if_none_match: str, since: str
) -> None:
    [answer] = await _answers(
        make_cache, {"if-none-match": if_none_match, "if-modified-since": since}
    )
    assert (answer.status_code, answer.text) == (200, BODY)
    assert answer.headers["x-cache"] == "HIT"
    assert answer.headers["etag"] == ETAG


@pytest.mark.parametrize("if_none_match", [ETAG, 'W/"v1"', '"x", "v1"', "*"])
async def test_a_matching_if_none_match_gets_304_whatever_if_modified_since_says(
    make_cache: MakeCache, if_none_match: str
) -> None:
    [answer] = await _answers(
        make_cache, {"if-none-match": if_none_match, "if-modified-since": EARLIER}
    )
    assert answer.status_code == 304
    assert answer.headers["etag"] == ETAG
