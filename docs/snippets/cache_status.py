# --8<-- [start:app]
from fastapi import APIRouter, FastAPI, Response

from fastapi_caching_route import CachingRoute, FastAPICache

cache = FastAPICache(cache_status=True)  # cache_status_name="fastapi-caching-route"
router = APIRouter(route_class=CachingRoute)


@cache(ttl=600)
@router.get("/status")
def status() -> dict[str, str]:
    return {"status": "ok"}
# --8<-- [end:app]

# --8<-- [start:cdn]
cdn = FastAPICache(cdn_cache_control=True, strip_cdn_cache_control=True, cache_status=True)


@cdn()
@router.get("/page")
def page(response: Response) -> str:
    response.headers["Cache-Control"] = "max-age=10"  # for browsers
    response.headers["CDN-Cache-Control"] = "max-age=600"  # for shared caches: us
    return "page"
# --8<-- [end:cdn]

from fastapi.testclient import TestClient

app = FastAPI()
app.include_router(router)
client = TestClient(app)

# --8<-- [start:check]
miss = client.get("/status")
assert miss.headers["cache-status"] == "fastapi-caching-route; fwd=uri-miss; stored"
hit = client.get("/status")
assert hit.headers["cache-status"].startswith("fastapi-caching-route; hit; ttl=")
bypass = client.get("/status", headers={"Authorization": "Bearer x"})
assert "fwd=bypass" in bypass.headers["cache-status"]
# --8<-- [end:check]

# --8<-- [start:cdn-check]
client.get("/page")
answer = client.get("/page")
assert answer.headers["x-cache"] == "HIT"
assert answer.headers["cache-control"] == "max-age=10"  # browsers see their own
assert "cdn-cache-control" not in answer.headers  # stripped
ttl = int(answer.headers["cache-status"].rsplit("ttl=", 1)[1])
assert 10 < ttl <= 600  # the entry lives by CDN-Cache-Control
# --8<-- [end:cdn-check]
