"""Early dependencies of ``@cache(dependencies=...)``: resolved before the lookup,
their errors win over hits, and so do their validation errors (422)."""

import pytest
from conftest import Calls, MakeCache, as_kind, caching_router, make_app, open_client
from fastapi import Depends, Header, HTTPException

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
