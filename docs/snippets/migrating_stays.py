# --8<-- [start:stays]
# Release 0.6.0 code, unchanged: aiocache storage, the documented import path,
# an early API-key dependency, a custom key builder, namespaces, vary_headers.
from aiocache import SimpleMemoryCache
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request

from fastapi_caching_route.main import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache(SimpleMemoryCache(namespace="api"))


def api_key(x_api_key: str = Header(None)) -> None:
    if x_api_key != "secret":
        raise HTTPException(status_code=401)


def user_key_builder(request: Request) -> str:
    return f"user:{request.scope['path_params']['user_id']}"


@cache(dependencies=[Depends(api_key)], ttl=60)
@router.get("/report")
def report(year: int = 2026) -> dict[str, int]:
    return {"year": year}


@cache(key_builder=user_key_builder, ttl=60, namespace="users")
@router.get("/users/{user_id}")
def get_user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


@cache(vary_headers=["Accept-Language"])
@router.get("/localized")
def localized(request: Request) -> dict[str, str]:
    return {"language": request.headers.get("accept-language", "en")}


app = FastAPI()
app.include_router(router)
# --8<-- [end:stays]

# --8<-- [start:stays-check]
import asyncio

from fastapi.testclient import TestClient

client = TestClient(app)
assert client.get("/report").status_code == 401  # the guard runs before the lookup
assert client.get("/report", headers={"X-API-Key": "secret"}).headers["x-cache"] == "MISS"
assert client.get("/report", headers={"X-API-Key": "secret"}).headers["x-cache"] == "HIT"

assert client.get("/users/1").headers["x-cache"] == "MISS"
assert client.get("/users/1?ignored=1").headers["x-cache"] == "HIT"
# The namespace policy "concat" joins the roots: "api:users".
params = cache.prepare_cache_params({"namespace": "users"})
assert params == {"namespace": "api:users"}
assert asyncio.run(cache.invalidate_cached("user:1", params["namespace"])) == 1
assert client.get("/users/1").headers["x-cache"] == "MISS"

de = client.get("/localized", headers={"Accept-Language": "de"})
assert de.headers["vary"] == "accept-language"
assert client.get("/localized", headers={"Accept-Language": "en"}).json() == {"language": "en"}
# --8<-- [end:stays-check]
