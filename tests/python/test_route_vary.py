"""The response's own Vary is a secondary key (RFC 9111 section 4.1), on every backend.

"When a cache receives a request that can be satisfied by a stored response
and that stored response contains a Vary header field, the cache MUST NOT use
that stored response without revalidation unless all the presented request
header fields nominated by that Vary field value match those fields in the
original request (i.e., the request that caused the cached response to be
stored)."
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import CacheBackend, FastAPICache, MemoryBackend, StoredResponse

pytestmark = pytest.mark.anyio


def _language_router(cache: FastAPICache, calls: Calls, *vary_lines: str, **options: Any) -> Any:
    """GET /lang answering the request's Accept-Language, with Vary lines of its own."""
    router = caching_router()
    lines = vary_lines or ("Accept-Language",)

    @cache(**options)
    @router.get("/lang")
    def language(request: Request) -> Response:
        calls()
        response = PlainTextResponse(request.headers.get("accept-language", "none"))
        for line in lines:
            response.headers.append("vary", line)
        return response

    return router


async def _get(client: Any, language: str | None, path: str = "/lang") -> tuple[str, str | None]:
    headers = {} if language is None else {"accept-language": language}
    response = await client.get(path, headers=headers)
    return response.text, response.headers.get("x-cache")


async def test_each_language_gets_its_own_variant(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _language_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        answers = [await _get(client, lang) for lang in ("en", "de", "en", "de", None, None)]
    assert answers == [
        ("en", "MISS"),
        ("de", "MISS"),  # 0.7.0 served "en" as a HIT here
        ("en", "HIT"),
        ("de", "HIT"),
        ("none", "MISS"),  # absent is a value of its own
        ("none", "HIT"),
    ]
    assert calls.count == 3


async def test_values_are_normalised_as_the_rfc_allows(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _language_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        first = await client.get("/lang", headers={"accept-language": "en, de"})
        same = [
            await client.get("/lang", headers={"accept-language": "en,de"}),
            await client.get("/lang", headers={"accept-language": " en ,  de "}),
            await client.get(
                "/lang", headers=[("accept-language", "en"), ("accept-language", "de")]
            ),
        ]
        other = await client.get("/lang", headers={"accept-language": "EN,de"})
    assert first.headers["x-cache"] == "MISS"
    assert [r.headers["x-cache"] for r in same] == ["HIT"] * 3
    assert all(r.text == "en, de" for r in same)
    assert (other.text, other.headers["x-cache"]) == ("EN,de", "MISS")  # case is not folded
    assert calls.count == 2


async def test_vary_star_on_any_line_is_never_stored(make_cache: MakeCache) -> None:
    # RFC 9111 section 4.1: "A stored response with a Vary header field value
    # containing a member "*" always fails to match." 0.7.0 read one line only.
    calls = Calls()
    router = _language_router(make_cache(), calls, "Accept-Language", "*")
    async with open_client(make_app(router)) as client:
        answers = [await _get(client, "en") for _ in range(3)]
    assert answers == [("en", None)] * 3
    assert calls.count == 3


async def test_names_on_several_lines_all_count(make_cache: MakeCache) -> None:
    calls = Calls()
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/two")
    def two(request: Request) -> Response:
        calls()
        text = f"{request.headers.get('accept-language')}|{request.headers.get('x-tenant')}"
        response = PlainTextResponse(text)
        response.headers.append("vary", "Accept-Language")
        response.headers.append("vary", "X-Tenant")
        return response

    async with open_client(make_app(router)) as client:
        a = await client.get("/two", headers={"accept-language": "en", "x-tenant": "a"})
        b = await client.get("/two", headers={"accept-language": "en", "x-tenant": "b"})
        a_again = await client.get("/two", headers={"accept-language": "en", "x-tenant": "a"})
    assert (a.text, b.text, a_again.text) == ("en|a", "en|b", "en|a")
    assert [r.headers["x-cache"] for r in (a, b, a_again)] == ["MISS", "MISS", "HIT"]


async def test_variants_per_key_are_bounded_and_counted(make_cache: MakeCache) -> None:
    calls = Calls()
    cache = make_cache(max_variants=2)
    router = _language_router(cache, calls)
    async with open_client(make_app(router)) as client:
        for lang in ("en", "de", "fr"):  # fr replaces en, the oldest
            await _get(client, lang)
        after = [await _get(client, lang) for lang in ("de", "fr", "en")]
    assert after == [("de", "HIT"), ("fr", "HIT"), ("en", "MISS")]
    assert calls.count == 4
    stats = cache.stats()
    dropped = stats.get("variants_dropped", stats.get("l2", {}).get("variants_dropped"))
    assert dropped == 2


async def test_route_vary_headers_and_the_response_vary_together(make_cache: MakeCache) -> None:
    calls = Calls()
    cache = make_cache()
    router = caching_router()

    @cache(vary_headers=["x-tenant"])
    @router.get("/both")
    def both(request: Request) -> Response:
        calls()
        text = f"{request.headers.get('accept-language')}|{request.headers.get('x-tenant')}"
        return PlainTextResponse(text, headers={"vary": "Accept-Language"})

    async with open_client(make_app(router)) as client:
        answers = []
        for tenant, lang in (("a", "en"), ("a", "de"), ("b", "en"), ("a", "en"), ("b", "en")):
            r = await client.get("/both", headers={"x-tenant": tenant, "accept-language": lang})
            answers.append((r.text, r.headers["x-cache"], r.headers["vary"]))
    assert [a[:2] for a in answers] == [
        ("en|a", "MISS"),
        ("de|a", "MISS"),
        ("en|b", "MISS"),
        ("en|a", "HIT"),
        ("en|b", "HIT"),
    ]
    assert {a[2] for a in answers} == {"accept-language, x-tenant"}


async def test_a_changed_vary_replaces_the_old_variants(make_cache: MakeCache) -> None:
    calls = Calls()
    cache = make_cache()
    router = caching_router()
    vary = ["Accept-Language"]

    @cache()
    @router.get("/changing")
    def changing(request: Request) -> Response:
        calls()
        text = f"{request.headers.get('accept-language')}|{request.headers.get('accept')}"
        return PlainTextResponse(text, headers={"vary": vary[0]})

    async with open_client(make_app(router)) as client:
        await client.get("/changing", headers={"accept-language": "en", "accept": "a"})
        vary[0] = "Accept"
        await client.get("/changing", headers={"accept-language": "de", "accept": "b"})
        # The entry stored under Vary: Accept-Language must not answer this one.
        r = await client.get("/changing", headers={"accept-language": "en", "accept": "c"})
    assert (r.text, r.headers["x-cache"]) == ("en|c", "MISS")
    assert calls.count == 3


async def test_head_is_answered_from_the_variant_of_the_request(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _language_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        await _get(client, "en")
        head_de = await client.head("/lang", headers={"accept-language": "de"})
        head_en = await client.head("/lang", headers={"accept-language": "en"})
    assert head_de.headers.get("x-cache") is None  # no variant for de: to the endpoint
    assert head_en.headers["x-cache"] == "HIT"
    assert head_en.headers["content-length"] == "2"


async def test_coalesced_requests_get_their_own_variant(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/slow")
    async def slow(request: Request) -> Response:
        calls()
        await anyio.sleep(0.2)
        return PlainTextResponse(
            request.headers.get("accept-language", ""), headers={"vary": "accept-language"}
        )

    results: dict[str, list[str]] = {"en": [], "de": []}
    async with open_client(make_app(router)) as client:

        async def one(lang: str) -> None:
            r = await client.get("/slow", headers={"accept-language": lang})
            results[lang].append(r.text)

        async with anyio.create_task_group() as group:
            for lang in ("en", "de", "en", "de"):
                group.start_soon(one, lang)
    assert results == {"en": ["en", "en"], "de": ["de", "de"]}


async def test_the_fast_lane_selects_the_variant_too() -> None:
    cache = FastAPICache(MemoryBackend())
    calls = Calls()
    router = _language_router(cache, calls)
    app = make_app(router)
    async with open_client(app) as client:
        for _ in range(2):  # the second round goes through the lane
            answers = [await _get(client, lang) for lang in ("en", "de")]
    assert answers == [("en", "HIT"), ("de", "HIT")]
    assert calls.count == 2
    from fastapi_caching_route._fastlane import FastLane

    assert isinstance(app.router.middleware_stack, FastLane)


class _OneSlotBackend(CacheBackend):
    """A backend of one's own without Vary support: one response per key."""

    def __init__(self) -> None:
        self.values: dict[str, StoredResponse] = {}

    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        return self.values.get(key)

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        self.values[key] = value
        return True

    async def delete(self, key: str, namespace: str | None = None) -> int:
        return int(self.values.pop(key, None) is not None)

    async def clear(self, namespace: str | None = None) -> int:
        count = len(self.values)
        self.values.clear()
        return count


async def test_a_backend_without_vary_support_never_serves_another_variant() -> None:
    calls = Calls()
    router = _language_router(FastAPICache(_OneSlotBackend()), calls)
    async with open_client(make_app(router)) as client:
        answers = [await _get(client, lang) for lang in ("en", "de", "de", "en")]
    # One slot: the route checks the stored variant against each request.
    assert answers == [("en", "MISS"), ("de", "MISS"), ("de", "HIT"), ("en", "MISS")]


def test_max_variants_is_validated() -> None:
    with pytest.raises(ValueError, match="max_variants"):
        FastAPICache(max_variants=0)
    with pytest.raises(TypeError, match=r"^max_variants must be an int, not float$"):
        FastAPICache(max_variants=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^max_variants must be >= 1, got 0$"):
        MemoryBackend(max_variants=0)
    assert MemoryBackend(max_variants=1).max_variants == 1  # one variant is allowed
    with pytest.raises(ValueError, match="max_variants"):
        MemoryBackend(max_variants=-1)
    assert FastAPICache(max_variants=3).backend.max_variants == 3
    assert FastAPICache().backend.max_variants == 32
