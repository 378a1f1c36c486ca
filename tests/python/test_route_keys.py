"""The default cache key (method, path, declared query parameters, vary headers)
and custom key builders, observed through X-Cache and endpoint call counts."""

import pytest
from conftest import Calls, MakeCache, as_kind, caching_router, make_app, open_client
from fastapi import Depends, Query, Request

pytestmark = pytest.mark.anyio


async def _statuses(client, *requests):  # type: ignore[no-untyped-def]
    """X-Cache of each request; a request is a URL or (method, URL[, headers])."""
    result = []
    for request in requests:
        if isinstance(request, str):
            request = ("GET", request)
        method, url, *rest = request
        response = await client.request(method, url, headers=rest[0] if rest else None)
        assert response.status_code == 200, response.text
        result.append(response.headers.get("x-cache"))
    return result


def _echo_router(cache, calls: Calls, kind: str = "def", **cache_kwargs):  # type: ignore[no-untyped-def]
    router = caching_router()

    def echo(request: Request, a: str = "x", b: str = "y", q: str = "dflt", n: int = 5) -> dict:
        calls()
        return {"a": a, "b": b, "q": q, "n": n, "url": str(request.url)}

    cache(**cache_kwargs)(router.get("/echo")(as_kind(kind, echo)))
    return router


async def test_query_parameter_order_is_irrelevant(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    calls = Calls()
    router = _echo_router(make_cache(), calls, endpoint_kind)
    async with open_client(make_app(router)) as client:
        assert await _statuses(client, "/echo?a=1&b=2", "/echo?b=2&a=1") == ["MISS", "HIT"]
    assert calls.count == 1


async def test_declared_default_and_absent_parameter_share_an_entry(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _echo_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        assert await _statuses(
            client, "/echo", "/echo?q=dflt", "/echo?n=5", "/echo?q=dflt&n=5&a=x&b=y"
        ) == ["MISS", "HIT", "HIT", "HIT"]
        assert await _statuses(client, "/echo?q=other", "/echo?n=6") == ["MISS", "MISS"]
    assert calls.count == 3


async def test_undeclared_query_parameters_do_not_fragment(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _echo_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        assert await _statuses(client, "/echo?a=1", "/echo?a=1&x=1", "/echo?x=2&a=1&utm=z") == [
            "MISS",
            "HIT",
            "HIT",
        ]
    assert calls.count == 1


async def test_values_are_compared_after_percent_decoding(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _echo_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        assert await _statuses(client, "/echo?a=a", "/echo?a=%61", "/echo?%61=a") == [
            "MISS",
            "HIT",
            "HIT",
        ]
        assert await _statuses(client, "/echo?a=x+y", "/echo?a=x%20y") == ["MISS", "HIT"]
        assert await _statuses(client, "/echo?a=x%2By") == ["MISS"]  # a literal '+'
    assert calls.count == 3


async def test_required_parameter_values_distinguish(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/required")
    def required(q: str) -> str:
        calls()
        return q

    async with open_client(make_app(router)) as client:
        assert await _statuses(client, "/required?q=a", "/required?q=b", "/required?q=a") == [
            "MISS",
            "MISS",
            "HIT",
        ]
    assert calls.count == 2


async def test_repeated_values_are_part_of_the_key_in_order(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/list")
    def listed(a: list[str] = Query(default=[])) -> list[str]:  # noqa: B008
        calls()
        return a

    async with open_client(make_app(router)) as client:
        assert await _statuses(
            client,
            "/list?a=1&a=2",
            "/list?a=2&a=1",
            "/list?a=1",
            "/list?a=1&a=2",
            "/list?a=2&a=1",
            "/list",
        ) == ["MISS", "MISS", "MISS", "HIT", "HIT", "MISS"]
        second = await client.get("/list?a=2&a=1")
    assert second.json() == ["2", "1"]
    assert calls.count == 4


async def test_method_distinguishes(make_cache: MakeCache) -> None:
    # A cached POST (0.6.0 allowed it) would otherwise invalidate its path on
    # every miss (RFC 9111 section 4.4).
    cache = make_cache(invalidate_on_unsafe=False)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.api_route("/both", methods=["GET", "POST"])
    def both(request: Request) -> str:
        calls()
        return request.method

    async with open_client(make_app(router)) as client:
        assert await _statuses(
            client, ("GET", "/both"), ("POST", "/both"), ("GET", "/both"), ("POST", "/both")
        ) == ["MISS", "MISS", "HIT", "HIT"]
        assert (await client.post("/both")).json() == "POST"
        assert (await client.get("/both")).json() == "GET"
    assert calls.count == 2


async def test_path_distinguishes(make_cache: MakeCache, endpoint_kind: str) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    def item(item_id: int) -> dict[str, int]:
        calls()
        return {"id": item_id}

    cache()(router.get("/items/{item_id}")(as_kind(endpoint_kind, item)))
    async with open_client(make_app(router)) as client:
        assert await _statuses(client, "/items/1", "/items/2", "/items/1", "/items/2") == [
            "MISS",
            "MISS",
            "HIT",
            "HIT",
        ]
        assert (await client.get("/items/2")).json() == {"id": 2}
    assert calls.count == 2


async def test_vary_header_values_distinguish(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _echo_router(make_cache(), calls, vary_headers=["Accept-Language"])
    en = {"accept-language": "en"}
    fr = {"accept-language": "fr"}
    async with open_client(make_app(router)) as client:
        assert await _statuses(
            client,
            ("GET", "/echo", en),
            ("GET", "/echo", fr),
            ("GET", "/echo", en),
            ("GET", "/echo", fr),
            ("GET", "/echo", {"x-other": "1", **en}),
        ) == ["MISS", "MISS", "HIT", "HIT", "HIT"]
    assert calls.count == 2


async def test_headers_not_listed_in_vary_headers_do_not_fragment(make_cache: MakeCache) -> None:
    calls = Calls()
    router = _echo_router(make_cache(), calls)
    async with open_client(make_app(router)) as client:
        assert await _statuses(
            client,
            ("GET", "/echo", {"accept-language": "en"}),
            ("GET", "/echo", {"accept-language": "fr"}),
        ) == ["MISS", "HIT"]
    assert calls.count == 1


def _paging(page: int = 1, size: int = Query(default=10, alias="page-size")) -> tuple[int, int]:
    return page, size


async def test_query_parameters_of_sub_dependencies_are_part_of_the_key(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/paged")
    def paged(paging: tuple[int, int] = Depends(_paging)) -> list[int]:
        calls()
        return list(paging)

    async with open_client(make_app(router)) as client:
        assert await _statuses(
            client,
            "/paged?page=1",
            "/paged?page=2",
            "/paged",
            "/paged?page-size=10",
            "/paged?page-size=20",
            "/paged?page=2",
        ) == ["MISS", "MISS", "HIT", "HIT", "MISS", "HIT"]
        assert (await client.get("/paged?page-size=20")).json() == [1, 20]
    assert calls.count == 3


async def test_custom_key_builder_is_used(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()
    seen: list[str] = []

    def by_first_segment(request: Request) -> str:
        seen.append(request.url.path)
        return "shared-key"

    @cache(key_builder=by_first_segment)
    @router.get("/k/{name}")
    def named(name: str) -> str:
        calls()
        return name

    async with open_client(make_app(router)) as client:
        assert await _statuses(client, "/k/one", "/k/two", "/k/one?x=1") == ["MISS", "HIT", "HIT"]
        assert (await client.get("/k/two")).json() == "one"
    assert calls.count == 1
    assert seen == ["/k/one", "/k/two", "/k/one", "/k/two"]
    assert await cache.get_cached("shared-key") is not None


async def test_one_alias_with_two_defaults_never_shares_an_absent_key(
    make_cache: MakeCache,
) -> None:
    # Found by fuzzing: `a` and `b` both read ?x= with different defaults, so an
    # absent x (a=1, b=2) must not share the key of ?x=1 (a=1, b=1).
    calls = Calls()
    router = caching_router()

    def pair(a: str = Query("1", alias="x"), b: str = Query("2", alias="x")) -> dict:
        calls()
        return {"a": a, "b": b}

    make_cache()()(router.get("/pair")(pair))
    async with open_client(make_app(router)) as client:
        absent = await client.get("/pair")
        explicit = await client.get("/pair?x=1")
    assert absent.json() == {"a": "1", "b": "2"}
    assert explicit.json() == {"a": "1", "b": "1"}
    assert calls.count == 2
