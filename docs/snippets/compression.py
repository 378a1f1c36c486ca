# --8<-- [start:app]
from fastapi import APIRouter, FastAPI

from fastapi_caching_route import CachingRoute, FastAPICache

cache = FastAPICache()  # FastAPICache(compress=True): every route
router = APIRouter(route_class=CachingRoute)


@cache(ttl=300, compress=True)
@router.get("/report")
def report() -> dict[str, list[int]]:
    return {"rows": list(range(500))}  # compressible JSON, 512 bytes or more


app = FastAPI()
app.include_router(router)
# --8<-- [end:app]

# --8<-- [start:check]
from fastapi.testclient import TestClient

client = TestClient(app)
plain = client.get("/report", headers={"Accept-Encoding": "identity"})
assert plain.headers["x-cache"] == "MISS" and "content-encoding" not in plain.headers

zipped = client.get("/report", headers={"Accept-Encoding": "gzip, deflate"})
assert zipped.headers["x-cache"] == "HIT"  # compressed once, at the miss
assert zipped.headers["content-encoding"] == "gzip"
assert "accept-encoding" in zipped.headers["vary"].lower()
assert int(zipped.headers["content-length"]) < len(plain.content)
assert zipped.headers["etag"] != plain.headers["etag"]  # one validator per coding
assert zipped.content == plain.content  # the client decodes it
# --8<-- [end:check]
