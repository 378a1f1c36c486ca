"""Whose response is it: declared inputs are in the key, identities are not shared.

SPEC section 5: "a request with an Authorization header, or with the
credential of a FastAPI security scheme whose value reaches the endpoint's
parameters, is neither served from nor stored in the cache unless the route
keys on it ... or says shared=True; early dependencies alone prove the caller
may see the response, not that every caller gets the same one". RFC 9111
section 3.5: a shared cache must not reuse a response to a request with
Authorization unless the response explicitly allows it.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Cookie, Depends, Header, HTTPException, Query, Request, Security
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from pydantic import BaseModel

pytestmark = pytest.mark.anyio


async def _texts(client: Any, *requests: tuple[str, dict[str, str]]) -> list[tuple[str, Any]]:
    out = []
    for path, headers in requests:
        response = await client.get(path, headers=headers)
        out.append((response.text.strip('"'), response.headers.get("x-cache")))
    return out


# --- declared header and cookie parameters are in the key -------------------------------


async def test_a_declared_cookie_is_part_of_the_key(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/me")
    def me(session: str | None = Cookie(None)) -> str:
        calls()
        return f"user:{session}"

    async with open_client(make_app(router)) as client:
        answers = await _texts(
            client,
            ("/me", {"cookie": "session=alice"}),
            ("/me", {"cookie": "session=bob"}),
            ("/me", {"cookie": "session=alice; _ga=GA1.2.3"}),  # analytics: same entry
            ("/me", {}),
            ("/me", {"cookie": "theme=dark"}),
        )
    assert answers == [
        ("user:alice", "MISS"),
        ("user:bob", "MISS"),  # 0.7.0 served alice's body here
        ("user:alice", "HIT"),
        ("user:None", "MISS"),
        ("user:None", "HIT"),
    ]
    assert calls.count == 3


def _tenant(x_tenant: str = Header(default="public")) -> str:
    return x_tenant


def _theme(theme: Annotated[str, Cookie()] = "light") -> str:
    return theme


async def test_header_and_cookie_parameters_of_dependencies_are_in_the_key(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/page")
    def page(tenant: str = Depends(_tenant), theme: str = Depends(_theme)) -> str:
        calls()
        return f"{tenant}/{theme}"

    async with open_client(make_app(router)) as client:
        answers = await _texts(
            client,
            ("/page", {"x-tenant": "a"}),
            ("/page", {"x-tenant": "b"}),
            ("/page", {"x-tenant": "a", "cookie": "theme=dark"}),
            ("/page", {"X-Tenant": "a"}),
            ("/page", {"x-tenant": "b", "user-agent": "other"}),
        )
    assert answers == [
        ("a/light", "MISS"),
        ("b/light", "MISS"),
        ("a/dark", "MISS"),
        ("a/light", "HIT"),
        ("b/light", "HIT"),
    ]


async def test_first_line_of_a_scalar_header_decides(make_cache: MakeCache) -> None:
    # FastAPI reads the first field line of a scalar header: two lines and one
    # line holding both must not share an entry.
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/h")
    def h(x_v: str = Header()) -> str:
        return x_v

    async with open_client(make_app(router)) as client:
        one = await client.get("/h", headers=[("x-v", "a, b")])
        two = await client.get("/h", headers=[("x-v", "a"), ("x-v", "b")])
    assert (one.json(), two.json()) == ("a, b", "a")


class _Filters(BaseModel):
    model_config = {"extra": "forbid"}
    color: str = "any"


async def test_a_parameter_model_that_reads_extra_members_keys_on_all(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/items")
    def items(filters: Annotated[_Filters, Query()]) -> str:
        return filters.color

    async with open_client(make_app(router)) as client:
        ok = await client.get("/items?color=red")
        extra = await client.get("/items?color=red&size=9")  # forbidden extra: 422
    assert ok.status_code == 200
    assert extra.status_code == 422


# --- security schemes whose value reaches the endpoint ----------------------------------

oauth2 = OAuth2PasswordBearer(tokenUrl="token")


def _current_user(token: str = Depends(oauth2)) -> str:
    return token.removeprefix("token-")


async def test_oauth2_user_reaching_the_endpoint_is_never_shared(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/profile")
    def profile(user: str = Depends(_current_user)) -> str:
        calls()
        return user

    async with open_client(make_app(router)) as client:
        answers = await _texts(
            client,
            ("/profile", {"authorization": "Bearer token-alice"}),
            ("/profile", {"authorization": "Bearer token-bob"}),
            ("/profile", {"authorization": "Bearer token-alice"}),
        )
    assert answers == [("alice", None), ("bob", None), ("alice", None)]
    assert calls.count == 3
    assert cache.stats()["route"]["bypass_authorization"] == 3


SCHEMES: dict[str, tuple[Any, dict[str, str], dict[str, str], str]] = {
    # name: (scheme, alice's request headers, bob's, query for the scheme)
    "api_key_cookie": (
        APIKeyCookie(name="sid"),
        {"cookie": "sid=alice"},
        {"cookie": "sid=bob"},
        "",
    ),
    "api_key_header": (
        APIKeyHeader(name="X-API-Key"),
        {"x-api-key": "alice"},
        {"x-api-key": "bob"},
        "",
    ),
    "api_key_query": (APIKeyQuery(name="key"), {}, {}, "key"),
    "http_bearer": (
        HTTPBearer(),
        {"authorization": "Bearer alice"},
        {"authorization": "Bearer bob"},
        "",
    ),
}


def _value(credential: Any) -> str:
    if isinstance(credential, HTTPAuthorizationCredentials):
        return credential.credentials
    if isinstance(credential, HTTPBasicCredentials):
        return credential.username
    return str(credential)


@pytest.mark.parametrize("scheme_name", sorted(SCHEMES))
async def test_every_scheme_kind_is_an_identity(make_cache: MakeCache, scheme_name: str) -> None:
    scheme, alice, bob, query = SCHEMES[scheme_name]
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/mine")
    def mine(credential: Any = Security(scheme)) -> str:  # noqa: B008
        calls()
        return _value(credential)

    alice_path = f"/mine?{query}=alice" if query else "/mine"
    bob_path = f"/mine?{query}=bob" if query else "/mine"
    async with open_client(make_app(router)) as client:
        answers = await _texts(client, (alice_path, alice), (bob_path, bob), (alice_path, alice))
    assert answers == [("alice", None), ("bob", None), ("alice", None)]
    assert calls.count == 3


async def test_http_basic_reaching_the_endpoint_is_an_identity(make_cache: MakeCache) -> None:
    basic_scheme = HTTPBasic()
    cache = make_cache()
    router = caching_router()

    @cache()
    @router.get("/basic")
    def basic(credentials: HTTPBasicCredentials = Depends(basic_scheme)) -> str:  # noqa: B008
        return credentials.username

    async with open_client(make_app(router)) as client:
        alice = await client.get("/basic", auth=("alice", "pw"))
        bob = await client.get("/basic", auth=("bob", "pw"))
    assert (alice.json(), bob.json()) == ("alice", "bob")
    assert "x-cache" not in alice.headers and "x-cache" not in bob.headers


async def test_requests_without_the_credential_still_use_the_cache(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()
    optional = APIKeyHeader(name="X-API-Key", auto_error=False)

    @cache()
    @router.get("/maybe")
    def maybe(key: str | None = Security(optional)) -> str:
        calls()
        return f"key:{key}"

    async with open_client(make_app(router)) as client:
        answers = await _texts(
            client, ("/maybe", {}), ("/maybe", {}), ("/maybe", {"x-api-key": "k"})
        )
    assert answers == [("key:None", "MISS"), ("key:None", "HIT"), ("key:k", None)]


async def test_keying_on_the_credential_or_shared_allows_caching(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    scheme = APIKeyHeader(name="X-API-Key")

    @cache(vary_headers=["x-api-key"])
    @router.get("/keyed")
    def keyed(key: str = Security(scheme)) -> str:
        return key

    @cache(shared=True)
    @router.get("/shared")
    def shared(key: str = Security(scheme)) -> str:
        return "the same for everyone"

    async with open_client(make_app(router)) as client:
        keyed_answers = await _texts(
            client,
            ("/keyed", {"x-api-key": "a"}),
            ("/keyed", {"x-api-key": "b"}),
            ("/keyed", {"x-api-key": "a"}),
        )
        shared_answers = await _texts(
            client, ("/shared", {"x-api-key": "a"}), ("/shared", {"x-api-key": "b"})
        )
    assert keyed_answers == [("a", "MISS"), ("b", "MISS"), ("a", "HIT")]
    assert shared_answers == [("the same for everyone", "MISS"), ("the same for everyone", "HIT")]


# --- guards: access control, not identity ------------------------------------------------

api_key_guard = APIKeyHeader(name="X-Key")


def _check_key(key: str = Depends(api_key_guard)) -> None:
    if key != "secret":
        raise HTTPException(status_code=403, detail="bad key")


@pytest.mark.parametrize("where", ["route", "early"])
async def test_a_guard_only_scheme_keeps_caching_and_still_guards_hits(
    make_cache: MakeCache, where: str
) -> None:
    # 0.6.0's documented API-key example: the key decides access, the response
    # is the same for everyone allowed. A hit must never skip the guard.
    cache = make_cache()
    router = caching_router()
    calls = Calls()
    guard = [Depends(_check_key)]

    @cache(dependencies=guard if where == "early" else ())
    @router.get("/catalog", dependencies=guard if where == "route" else None)
    def catalog() -> str:
        calls()
        return "catalog"

    async with open_client(make_app(router)) as client:
        miss = await client.get("/catalog", headers={"x-key": "secret"})
        hit = await client.get("/catalog", headers={"x-key": "secret"})
        missing = await client.get("/catalog")
        wrong = await client.get("/catalog", headers={"x-key": "guess"})
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert missing.status_code in (401, 403)  # FastAPI's scheme: 403 before 0.120, then 401
    assert wrong.status_code == 403
    assert b"catalog" not in missing.content + wrong.content
    assert calls.count == 1


def _signed_in(authorization: str | None = Header(default=None)) -> None:
    if authorization not in ("Bearer alice", "Bearer bob"):
        raise HTTPException(status_code=401)


async def test_a_guard_does_not_make_per_user_responses_shared(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(dependencies=[Depends(_signed_in)])
    @router.get("/whoami")
    def whoami(request: Request) -> str:
        calls()
        return request.headers["authorization"].removeprefix("Bearer ")

    async with open_client(make_app(router)) as client:
        answers = await _texts(
            client,
            ("/whoami", {"authorization": "Bearer alice"}),
            ("/whoami", {"authorization": "Bearer bob"}),
        )
        denied = await client.get("/whoami", headers={"authorization": "Bearer eve"})
    assert answers == [("alice", None), ("bob", None)]  # 0.7.0 gave bob alice's body
    assert denied.status_code == 401
    assert calls.count == 2


async def test_an_undeclared_cookie_never_fragments(make_cache: MakeCache) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/public")
    def public() -> str:
        calls()
        return "public"

    async with open_client(make_app(router)) as client:
        answers = await _texts(
            client,
            ("/public", {"cookie": "_ga=1"}),
            ("/public", {"cookie": "_ga=2; _gid=3"}),
            ("/public", {}),
        )
    assert [a[1] for a in answers] == ["MISS", "HIT", "HIT"]
    assert calls.count == 1
