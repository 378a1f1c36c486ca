from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache()

# --8<-- [start:lifetime]
@cache()  # no ttl: the response's Cache-Control decides
@router.get("/rates")
def rates(response: Response) -> dict[str, float]:
    response.headers["Cache-Control"] = "max-age=300"  # fresh for 5 minutes
    return {"eur": 1.08}
# --8<-- [end:lifetime]

# --8<-- [start:revalidate]
VERSION = 7  # stands in for a row's version in a database
revalidations = []


@cache()
@router.get("/catalog")
def catalog(request: Request) -> Response:
    headers = {"ETag": f'"catalog-v{VERSION}"', "Cache-Control": "no-cache"}  # checked on every use
    if request.headers.get("if-none-match") == headers["ETag"]:
        revalidations.append(headers["ETag"])  # cheap: the body is not built again
        return Response(status_code=304, headers=headers)
    return JSONResponse({"version": VERSION, "items": ["lamp", "desk"]}, headers=headers)
# --8<-- [end:revalidate]

app = FastAPI()
app.include_router(router)
client = TestClient(app)

# --8<-- [start:lifetime-check]
assert client.get("/rates").headers["x-cache"] == "MISS"
hit = client.get("/rates")
assert hit.headers["x-cache"] == "HIT"
assert int(hit.headers["age"]) < 300  # the entry's current age
# --8<-- [end:lifetime-check]

# --8<-- [start:revalidate-check]
assert client.get("/catalog").headers["x-cache"] == "MISS"
# Each later request asks the endpoint with the entry's validator; its 304
# freshens the entry, and the client gets the stored body.
again = client.get("/catalog")
assert again.json()["version"] == 7 and again.headers["x-cache"] == "HIT"
assert revalidations == ['"catalog-v7"']

VERSION = 8  # the data changed: the endpoint answers in full, the entry is replaced
assert client.get("/catalog").json()["version"] == 8
# --8<-- [end:revalidate-check]
