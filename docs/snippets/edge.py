# --8<-- [start:app]
from fastapi import APIRouter, FastAPI, Request

from fastapi_caching_route import CachingRoute, FastAPICache

cache = FastAPICache()
router = APIRouter(route_class=CachingRoute)


@cache(ttl=60, edge=True)  # hits may skip the middleware
@router.get("/prices")
async def prices() -> dict[str, float]:
    return {"lamp": 24.0}


api = FastAPI()
api.include_router(router)
seen_by_middleware: list[str] = []


@api.middleware("http")
async def audit(request: Request, call_next):  # stands in for any middleware
    seen_by_middleware.append(request.url.path)
    return await call_next(request)


app = cache.edge(api)  # serve this object: uvicorn main:app
# --8<-- [end:app]

# --8<-- [start:check]
from fastapi.testclient import TestClient

client = TestClient(app)
assert client.get("/prices").headers["x-cache"] == "MISS"  # through the app
for _ in range(3):
    assert client.get("/prices").headers["x-cache"] == "HIT"
assert seen_by_middleware == ["/prices"]  # the hits never reached it
# --8<-- [end:check]
