# --8<-- [start:app]
from fastapi import APIRouter, FastAPI

from fastapi_caching_route import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)  # change 1: the route class
cache = FastAPICache()  # the native in-process store, bounded to 256 MiB

calls = 0


@cache(ttl=60)  # change 2: mark the endpoint, above the router decorator
@router.get("/items")
async def items(q: str | None = None, limit: int = 10) -> list[str]:
    global calls
    calls += 1
    return [f"{q or 'item'}-{i}" for i in range(limit)]


app = FastAPI()
app.include_router(router)
# --8<-- [end:app]

# --8<-- [start:walkthrough]
from fastapi.testclient import TestClient

client = TestClient(app)

# 1. The first request runs the endpoint and stores its response.
miss = client.get("/items?q=a")
assert miss.headers["x-cache"] == "MISS"
etag = miss.headers["etag"]  # a strong ETag from a hash of the body

# 2. The same key again: answered from the cache, the endpoint does not run.
#    Parameter order, percent-escapes, an absent parameter's declared default
#    and undeclared parameters (utm_source) do not change the key.
hit = client.get("/items?limit=10&q=%61&utm_source=newsletter")
assert hit.headers["x-cache"] == "HIT"
assert hit.content == miss.content
assert hit.headers["etag"] == etag
assert "age" in hit.headers  # seconds since the response was stored
assert calls == 1

# 3. A client that holds the body revalidates: 304, no body.
not_modified = client.get("/items?q=a", headers={"If-None-Match": etag})
assert not_modified.status_code == 304
assert not_modified.content == b""
assert "content-length" not in not_modified.headers

# 4. HEAD is answered from the GET entry, without a body.
head = client.head("/items?q=a")
assert head.headers["x-cache"] == "HIT" and head.content == b""

# A different declared input is a different key.
assert client.get("/items?q=b").headers["x-cache"] == "MISS"
assert calls == 2
# --8<-- [end:walkthrough]
