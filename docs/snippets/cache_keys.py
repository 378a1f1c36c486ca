from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache, MemoryBackend

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache()

# --8<-- [start:declared]
def pagination(page: int = 1, per_page: int = 20) -> tuple[int, int]:
    return page, per_page


@cache(ttl=60)
@router.get("/products")
def products(
    tags: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    accept_language: Annotated[str, Header()] = "en",
    paging: tuple[int, int] = Depends(pagination),  # its query parameters count too
) -> dict[str, object]:
    return {"tags": tags, "language": accept_language, "paging": paging}
# --8<-- [end:declared]

# --8<-- [start:vary]
@cache(ttl=60)
@router.get("/greeting")
def greeting(request: Request, response: Response) -> str:
    response.headers["Vary"] = "Accept-Language"  # the response says what it varies on
    return "Hallo" if request.headers.get("accept-language") == "de" else "Hello"
# --8<-- [end:vary]

# --8<-- [start:vary-headers]
@cache(ttl=60, vary_headers=["X-Tenant"])
@router.get("/dashboard")
def dashboard(request: Request) -> str:
    return f"dashboard of {request.headers.get('x-tenant')}"
# --8<-- [end:vary-headers]

# --8<-- [start:key-builder]
def article_key(request: Request) -> str:
    # One entry per article, whatever the query string or headers say.
    return f"article:{request.path_params['slug']}"


@cache(key_builder=article_key, namespace="articles", ttl=600)
@router.get("/articles/{slug}")
def article(slug: str, preview: bool = False) -> dict[str, str]:
    return {"slug": slug}
# --8<-- [end:key-builder]

app = FastAPI()
app.include_router(router)
client = TestClient(app)

# --8<-- [start:declared-check]
first = client.get("/products?tags=a&tags=b&page=2", headers={"Accept-Language": "de"})
assert first.headers["x-cache"] == "MISS"
# Same declared values (repeated values in order, defaults filled in): a hit.
same = client.get(
    "/products?page=2&tags=a&per_page=20&tags=b&utm_campaign=x", headers={"Accept-Language": "de"}
)
assert same.headers["x-cache"] == "HIT"
# A declared header is part of the key; so is the order of repeated values.
assert client.get("/products?tags=a&tags=b&page=2").headers["x-cache"] == "MISS"
assert client.get("/products?tags=b&tags=a&page=2", headers={"Accept-Language": "de"}).headers[
    "x-cache"
] == "MISS"
# --8<-- [end:declared-check]

# --8<-- [start:vary-check]
en = client.get("/greeting", headers={"Accept-Language": "en"})
de = client.get("/greeting", headers={"Accept-Language": "de"})
assert (en.text, de.text) == ('"Hello"', '"Hallo"')
assert (en.headers["x-cache"], de.headers["x-cache"]) == ("MISS", "MISS")
# Both variants live under one key; each request gets its own language.
assert client.get("/greeting", headers={"Accept-Language": "de"}).text == '"Hallo"'
assert client.get("/greeting", headers={"Accept-Language": "en"}).headers["x-cache"] == "HIT"
# --8<-- [end:vary-check]

# --8<-- [start:vary-headers-check]
acme = client.get("/dashboard", headers={"X-Tenant": "acme"})
assert acme.headers["vary"] == "x-tenant"  # merged into the response's Vary
assert client.get("/dashboard", headers={"X-Tenant": "globex"}).text == '"dashboard of globex"'
assert client.get("/dashboard", headers={"X-Tenant": "acme"}).headers["x-cache"] == "HIT"
# --8<-- [end:vary-headers-check]

# --8<-- [start:key-builder-check]
assert client.get("/articles/caching").headers["x-cache"] == "MISS"
assert client.get("/articles/caching?preview=true").headers["x-cache"] == "HIT"
# --8<-- [end:key-builder-check]

# --8<-- [start:namespaces]
concat = FastAPICache(MemoryBackend(namespace="shop"))  # namespace_policy="concat"
assert concat.prepare_cache_params({"namespace": "users"}) == {"namespace": "shop:users"}

replace = FastAPICache(MemoryBackend(namespace="shop"), namespace_policy="replace")
assert replace.prepare_cache_params({"namespace": "users"}) == {"namespace": "users"}
# --8<-- [end:namespaces]
