from fastapi import APIRouter, FastAPI, Response
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache()

# --8<-- [start:app]
@cache(ttl=300, client_max_age=60)
@router.get("/report")
def report() -> dict[str, int]:
    return {"total": 42}


@cache(ttl=300)
@router.get("/document")
def document(response: Response) -> str:
    response.headers["ETag"] = '"v7"'  # the endpoint's own validator is kept
    return "version 7"
# --8<-- [end:app]

app = FastAPI()
app.include_router(router)
client = TestClient(app)

# --8<-- [start:etag]
stored = client.get("/report")
etag, last_modified = stored.headers["etag"], stored.headers["last-modified"]
assert stored.headers["cache-control"] == "max-age=60"  # client_max_age

# If-None-Match: weak comparison, lists and "*" all match.
for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
    answer = client.get("/report", headers={"If-None-Match": value})
    assert answer.status_code == 304 and answer.content == b""

# The 304 carries the validators and caching headers only.
assert {"etag", "last-modified", "cache-control", "age", "x-cache"} <= set(answer.headers)
assert "content-length" not in answer.headers and "content-type" not in answer.headers

# A validator that does not match gets the full response.
assert client.get("/report", headers={"If-None-Match": '"stale"'}).status_code == 200
# --8<-- [end:etag]

# --8<-- [start:last-modified]
# Stored responses get Last-Modified (set_last_modified=True), so
# If-Modified-Since works too; If-None-Match wins when both are sent.
assert client.get("/report", headers={"If-Modified-Since": last_modified}).status_code == 304
both = {"If-Modified-Since": last_modified, "If-None-Match": '"stale"'}
assert client.get("/report", headers=both).status_code == 200
# Malformed validators are ignored, never an error.
assert client.get("/report", headers={"If-Modified-Since": "yesterday"}).status_code == 200
# --8<-- [end:last-modified]

# --8<-- [start:own-etag]
assert client.get("/document").headers["etag"] == '"v7"'
assert client.get("/document", headers={"If-None-Match": '"v7"'}).status_code == 304
# --8<-- [end:own-etag]

# --8<-- [start:range]
full = client.get("/document")
assert full.text == '"version 7"'
part = client.get("/document", headers={"Range": "bytes=1-7"})
assert part.status_code == 206 and part.text == "version"
assert part.headers["content-range"] == f"bytes 1-7/{len(full.content)}"
assert client.get("/document", headers={"Range": "bytes=100-"}).status_code == 416
# If-Range with a validator that no longer matches: the whole 200.
changed = client.get("/document", headers={"Range": "bytes=1-7", "If-Range": '"v6"'})
assert changed.status_code == 200
# --8<-- [end:range]
