import time

from fastapi import APIRouter, FastAPI, Response
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache

# --8<-- [start:app]
# Defaults for every route; a route's own windows win, then the response's
# Cache-Control: stale-while-revalidate=N / stale-if-error=N.
cache = FastAPICache(stale_while_revalidate=30, stale_if_error=300)
router = APIRouter(route_class=CachingRoute)
calls = {"dashboard": 0, "quotes": 0}


@cache(stale_while_revalidate=120)
@router.get("/dashboard")
async def dashboard(response: Response) -> dict[str, int]:
    calls["dashboard"] += 1
    response.headers["ETag"] = f'"d{calls["dashboard"]}"'
    response.headers["Cache-Control"] = "max-age=0"  # stale at once, for this page's sake
    return {"version": calls["dashboard"]}


@cache(stale_while_revalidate=0)  # stale only when the endpoint fails
@router.get("/quotes")
async def quotes(response: Response) -> dict[str, int]:
    calls["quotes"] += 1
    if calls["quotes"] > 1:
        raise RuntimeError("the quotes service is down")
    response.headers["ETag"] = '"q1"'
    response.headers["Cache-Control"] = "max-age=0"
    return {"price": 42}


app = FastAPI()
app.include_router(router)
# --8<-- [end:app]

# --8<-- [start:swr]
with TestClient(app) as client:  # one event loop: the background refresh runs in it
    assert client.get("/dashboard").headers["x-cache"] == "MISS"
    stale = client.get("/dashboard")  # expired: answered at once from the entry
    assert stale.headers["x-cache"] == "STALE" and stale.json() == {"version": 1}

    deadline = time.monotonic() + 10  # the refresh runs detached from that request
    while cache.stats()["route"].get("refreshes_succeeded", 0) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert client.get("/dashboard").json() == {"version": 2}  # the refreshed entry
# --8<-- [end:swr]

# --8<-- [start:sie]
with TestClient(app, raise_server_exceptions=False) as client:
    assert client.get("/quotes").headers["x-cache"] == "MISS"
    fallback = client.get("/quotes")  # expired, and the endpoint raises
    assert fallback.status_code == 200 and fallback.json() == {"price": 42}
    assert fallback.headers["x-cache"] == "STALE"
    assert cache.stats()["route"]["stale_if_error_answers"] == 1
# --8<-- [end:sie]
