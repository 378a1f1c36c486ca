"""Partial responses are never stored, and a Range request is answered only
from a complete 200 (RFC 9110 section 14.2: a server may ignore Range and send
the whole representation; RFC 9111 section 3.4: a cache must not answer with
a partial response it does not know to be current and complete)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio

BODY = b"0123456789abcdefghij"


def test_206_is_refused_as_an_accepted_status() -> None:
    with pytest.raises(ValueError, match="206"):
        FastAPICache(accepted_status_codes={200, 206})


def _ranged_router(cache: FastAPICache, calls: Calls) -> Any:
    """GET /file answering a 206 with the first ten bytes to a Range request."""
    router = caching_router()

    @cache()
    @router.get("/file")
    def file(request: Request) -> Response:
        calls()
        if request.headers.get("range") == "bytes=0-9":
            return Response(
                BODY[:10],
                status_code=206,
                headers={"content-range": f"bytes 0-9/{len(BODY)}"},
                media_type="application/octet-stream",
            )
        return Response(BODY, media_type="application/octet-stream")

    return router


async def test_a_206_is_never_stored_or_replayed(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _ranged_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        partial = await client.get("/file", headers={"range": "bytes=0-9"})
        full = [await client.get("/file") for _ in range(2)]
    assert (partial.status_code, partial.content) == (206, BODY[:10])
    assert "x-cache" not in partial.headers
    assert [(r.status_code, r.content) for r in full] == [(200, BODY), (200, BODY)]
    assert [r.headers["x-cache"] for r in full] == ["MISS", "HIT"]


async def test_a_range_request_is_answered_206_from_the_stored_200(
    make_cache: MakeCache,
) -> None:
    # RFC 9110 section 14.2: a server "SHOULD send a 206 (Partial Content) ...
    # containing one or more partial representations".
    calls = Calls()
    router = _ranged_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        await client.get("/file")
        ranged = await client.get("/file", headers={"range": "bytes=0-9"})
    assert (ranged.status_code, ranged.content, ranged.headers["x-cache"]) == (
        206,
        BODY[:10],
        "HIT",
    )
    assert ranged.headers["content-range"] == f"bytes 0-9/{len(BODY)}"
    assert ranged.headers["content-length"] == "10"
    assert calls.count == 1


async def test_a_range_request_is_never_answered_from_another_status(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(accepted_status_codes={200, 203})
    calls = Calls()
    router = caching_router()

    @cache()
    @router.get("/other")
    def other(request: Request) -> Response:
        calls()
        if request.headers.get("range"):
            return Response(BODY[:10], status_code=206)
        return Response(BODY, status_code=203)

    async with open_client(make_app(router)) as client:
        stored = await client.get("/other")
        ranged = await client.get("/other", headers={"range": "bytes=0-9"})
        plain = await client.get("/other")
    assert (stored.status_code, stored.headers["x-cache"]) == (203, "MISS")
    assert (ranged.status_code, ranged.content) == (206, BODY[:10])
    assert "x-cache" not in ranged.headers
    assert (plain.status_code, plain.headers["x-cache"]) == (203, "HIT")


@pytest.mark.parametrize(
    ("range_value", "status", "content", "content_range"),
    [
        ("bytes=0-0", 206, BODY[:1], f"bytes 0-0/{len(BODY)}"),
        ("bytes=5-", 206, BODY[5:], f"bytes 5-19/{len(BODY)}"),
        ("bytes=-3", 206, BODY[-3:], f"bytes 17-19/{len(BODY)}"),
        ("bytes=10-1000", 206, BODY[10:], f"bytes 10-19/{len(BODY)}"),  # clamped
        ("bytes=20-", 416, b"", f"bytes */{len(BODY)}"),  # section 15.5.17
        ("items=0-1", 200, BODY, None),  # another unit: ignored
        ("bytes=x-y", 200, BODY, None),  # invalid: ignored (section 14.2)
    ],
)
async def test_ranges_of_a_stored_200(
    make_cache: MakeCache,
    range_value: str,
    status: int,
    content: bytes,
    content_range: str | None,
) -> None:
    calls = Calls()
    router = _ranged_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        await client.get("/file")
        ranged = await client.get("/file", headers={"range": range_value})
    assert (ranged.status_code, ranged.content) == (status, content)
    assert ranged.headers.get("content-range") == content_range
    assert ranged.headers["content-length"] == str(len(content))
    assert ranged.headers["x-cache"] == "HIT"
    assert calls.count == 1


async def test_if_range_with_another_etag_gets_the_whole_response(make_cache: MakeCache) -> None:
    # RFC 9110 section 13.1.5: "if the validator does not match ... the
    # recipient MUST ignore the Range header field".
    router = _ranged_router(make_cache(), Calls())
    async with open_client(make_app(router)) as client:
        etag = (await client.get("/file")).headers["etag"]
        same = await client.get("/file", headers={"range": "bytes=0-1", "if-range": etag})
        other = await client.get("/file", headers={"range": "bytes=0-1", "if-range": '"other"'})
        weak = await client.get("/file", headers={"range": "bytes=0-1", "if-range": "W/" + etag})
    assert (same.status_code, same.content) == (206, BODY[:2])
    assert (other.status_code, other.content) == (200, BODY)
    assert (weak.status_code, weak.content) == (200, BODY)  # a strong comparison


async def test_a_conditional_match_wins_over_range(make_cache: MakeCache) -> None:
    # RFC 9110 section 13.2.2: preconditions are evaluated before Range.
    router = _ranged_router(make_cache(), Calls())
    async with open_client(make_app(router)) as client:
        etag = (await client.get("/file")).headers["etag"]
        answer = await client.get("/file", headers={"range": "bytes=0-1", "if-none-match": etag})
    assert answer.status_code == 304
