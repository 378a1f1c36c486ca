"""Early dependencies of ``@cache(dependencies=...)``: resolved before the lookup,
their errors win over hits, and so do their validation errors (422)."""

from typing import Any

import pytest
from conftest import Calls, MakeCache, as_kind, caching_router, make_app, open_client
from fastapi import Cookie, Depends, Header, HTTPException, Request, Response

pytestmark = pytest.mark.anyio

# --- early dependencies -----------------------------------------------------------------


def _token_router(cache, checks: Calls, calls: Calls, kind: str):  # type: ignore[no-untyped-def]
    def check_token(x_token: str | None = Header(default=None)) -> None:
        checks()
        if x_token != "secret":
            raise HTTPException(status_code=401, detail="unauthorized")

    router = caching_router()

    def guarded() -> dict[str, str]:
        calls()
        return {"secret": "data"}

    cache(dependencies=[Depends(check_token)])(router.get("/guarded")(as_kind(kind, guarded)))
    return router, check_token


async def test_early_dependency_error_wins_over_a_cached_entry(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    checks, calls = Calls(), Calls()
    router, _ = _token_router(make_cache(), checks, calls, endpoint_kind)
    async with open_client(make_app(router)) as client:
        denied_first = await client.get("/guarded")
        miss = await client.get("/guarded", headers={"x-token": "secret"})
        hit = await client.get("/guarded", headers={"x-token": "secret"})
        denied = await client.get("/guarded")
        denied_wrong = await client.get("/guarded", headers={"x-token": "wrong"})
    assert denied_first.status_code == 401
    assert (miss.status_code, miss.headers["x-cache"]) == (200, "MISS")
    assert (hit.status_code, hit.headers["x-cache"]) == (200, "HIT")
    for response in (denied, denied_wrong):
        assert response.status_code == 401
        assert response.json() == {"detail": "unauthorized"}
        assert "x-cache" not in response.headers
        assert b"secret" not in response.content
    assert calls.count == 1
    assert checks.count == 5  # the early dependency ran before every lookup


async def test_dependency_overrides_apply_to_early_dependencies(make_cache: MakeCache) -> None:
    checks, calls = Calls(), Calls()
    router, check_token = _token_router(make_cache(), checks, calls, "def")
    overridden = Calls()
    app = make_app(router)
    app.dependency_overrides[check_token] = overridden
    async with open_client(app) as client:
        miss = await client.get("/guarded")
        hit = await client.get("/guarded")
    assert (miss.status_code, miss.headers["x-cache"]) == (200, "MISS")
    assert (hit.status_code, hit.headers["x-cache"]) == (200, "HIT")
    assert checks.count == 0
    assert overridden.count == 2


def _need_key(x_key: str = Header()) -> str:
    return x_key


async def test_early_dependency_validation_error_goes_to_the_normal_handler(
    make_cache: MakeCache, endpoint_kind: str
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    def keyed() -> str:
        calls()
        return "keyed"

    endpoint = as_kind(endpoint_kind, keyed)
    cache(dependencies=[Depends(_need_key)])(
        router.get("/keyed", dependencies=[Depends(_need_key)])(endpoint)
    )
    async with open_client(make_app(router)) as client:
        miss = await client.get("/keyed", headers={"x-key": "k"})
        hit = await client.get("/keyed", headers={"x-key": "k"})
        invalid = await client.get("/keyed")
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert invalid.status_code == 422
    assert "x-cache" not in invalid.headers
    assert invalid.json()["detail"][0]["loc"] == ["header", "x-key"]
    assert calls.count == 1


async def test_early_dependency_validation_error_is_the_response(make_cache: MakeCache) -> None:
    # The endpoint itself does not need the header, yet its guard does: the
    # request is answered 422 as if the dependency were on the route, and the
    # endpoint never runs without its guard (0.6.0 ran it).
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(dependencies=[Depends(_need_key)])
    @router.get("/loose")
    def loose() -> dict[str, int]:
        calls()
        return {"n": calls.count}

    async with open_client(make_app(router)) as client:
        invalid = [await client.get("/loose") for _ in range(2)]
        miss = await client.get("/loose", headers={"x-key": "k"})
        hit = await client.get("/loose", headers={"x-key": "k"})
        after = await client.get("/loose")
    for response in (*invalid, after):
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["header", "x-key"]
        assert "x-cache" not in response.headers
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert miss.json() == hit.json() == {"n": 1}
    assert calls.count == 1


# --- a guard whose own input is missing (issue: "a guard is skipped") -------------------


def _need_api_key(x_api_key: str = Header()) -> None:
    if x_api_key != "right":
        raise HTTPException(status_code=401, detail="bad key")


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_a_guard_whose_input_is_missing_answers_422_never_the_body(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    cache = make_cache(fast_lane=fast_lane)
    router = caching_router()
    calls = Calls()

    @cache(dependencies=[Depends(_need_api_key)])
    @router.get("/secret")
    def secret() -> str:
        calls()
        return "protected"

    async with open_client(make_app(router)) as client:
        before = await client.get("/secret")  # nothing cached yet
        miss = await client.get("/secret", headers={"x-api-key": "right"})
        hits = [await client.get("/secret", headers={"x-api-key": "right"}) for _ in range(2)]
        after = [await client.get("/secret") for _ in range(2)]  # cached now, lane learned
        wrong = await client.get("/secret", headers={"x-api-key": "wrong"})
    for response in (before, *after):
        assert response.status_code == 422
        assert b"protected" not in response.content
        assert "x-cache" not in response.headers
    assert wrong.status_code == 401
    assert [r.headers["x-cache"] for r in (miss, *hits)] == ["MISS", "HIT", "HIT"]
    assert calls.count == 1


async def test_validation_errors_go_through_the_apps_handler(make_cache: MakeCache) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(_need_api_key)])
    @router.get("/secret")
    def secret() -> str:
        return "protected"

    app = make_app(router)

    @app.exception_handler(RequestValidationError)
    async def handler(request: Any, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"custom": len(exc.errors())}, status_code=400)

    async with open_client(app) as client:
        response = await client.get("/secret")
    assert (response.status_code, response.json()) == (400, {"custom": 1})


# --- what early dependencies set on their Response reaches the client -------------------


def _stamp(response: Response) -> None:
    _stamp.count += 1  # type: ignore[attr-defined]
    response.set_cookie("visit", str(_stamp.count))  # type: ignore[attr-defined]
    response.headers["x-request-stamp"] = str(_stamp.count)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_headers_and_cookies_set_by_early_dependencies_reach_misses_and_hits(
    make_cache: MakeCache, fast_lane: bool
) -> None:
    _stamp.count = 0  # type: ignore[attr-defined]
    cache = make_cache(fast_lane=fast_lane)
    router = caching_router()
    calls = Calls()

    @cache(dependencies=[Depends(_stamp)])
    @router.get("/stamped")
    def stamped() -> str:
        calls()
        return "body"

    async with open_client(make_app(router)) as client:
        responses = [await client.get("/stamped") for _ in range(3)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    # Per request, never stored: each answer carries its own request's values.
    assert [r.headers["x-request-stamp"] for r in responses] == ["1", "2", "3"]
    assert [r.headers["set-cookie"].split(";")[0] for r in responses] == [
        "visit=1",
        "visit=2",
        "visit=3",
    ]
    assert calls.count == 1


def _teapot(response: Response) -> None:
    response.status_code = 203


async def test_an_early_dependency_status_applies_as_fastapi_applies_it(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(_teapot)])
    @router.get("/status")
    def status() -> str:
        return "body"

    async with open_client(make_app(router)) as client:
        miss = await client.get("/status")
        hit = await client.get("/status")
    assert (miss.status_code, hit.status_code) == (203, 203)
    assert hit.headers["x-cache"] == "HIT"


# --- plain guards are called directly; the rest through FastAPI's solver ---------------


@pytest.mark.parametrize("kind", ["def", "async def"])
async def test_plain_guards_see_path_query_header_cookie_and_request(
    make_cache: MakeCache, kind: str
) -> None:
    seen: list[tuple[str, int, str, str, str]] = []

    def guard(item: str, page: int, request: Request, x_key: str = Header(), sid: str = Cookie()):
        seen.append((item, page, x_key, sid, request.url.path))
        if x_key != "k":
            raise HTTPException(status_code=403)

    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(as_kind(kind, guard))])
    @router.get("/items/{item}")
    def item(item: str) -> str:
        return item

    async with open_client(make_app(router)) as client:
        ok = [
            await client.get("/items/a?page=2", headers={"x-key": "k", "cookie": "sid=s"})
            for _ in range(3)
        ]
        denied = await client.get("/items/a?page=2", headers={"x-key": "no", "cookie": "sid=s"})
        invalid = await client.get("/items/a?page=x", headers={"x-key": "k", "cookie": "sid=s"})
    assert [r.headers["x-cache"] for r in ok] == ["MISS", "HIT", "HIT"]
    assert seen[0] == ("a", 2, "k", "s", "/items/a")
    assert len(seen) == 4
    assert denied.status_code == 403
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["query", "page"]


async def test_a_guard_listed_twice_runs_once(make_cache: MakeCache) -> None:
    calls = Calls()

    async def guard() -> None:
        calls()

    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(guard), Depends(guard)])
    @router.get("/twice")
    def twice() -> str:
        return "ok"

    async with open_client(make_app(router)) as client:
        for _ in range(2):
            await client.get("/twice")
    assert calls.count == 2  # once per request, as FastAPI's dependency cache does


async def test_yield_and_nested_guards_go_through_fastapi(make_cache: MakeCache) -> None:
    events: list[str] = []

    async def session() -> Any:
        events.append("open")
        yield "s"
        events.append("close")

    def guard(s: str = Depends(session)) -> None:
        events.append(f"guard:{s}")

    cache = make_cache()
    router = caching_router()

    @cache(dependencies=[Depends(guard)])
    @router.get("/nested")
    def nested() -> str:
        return "ok"

    async with open_client(make_app(router)) as client:
        for _ in range(2):
            assert (await client.get("/nested")).status_code == 200
    assert events == ["open", "guard:s", "close"] * 2
