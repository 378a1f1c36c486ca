from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, Response
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache()

# --8<-- [start:set-cookie-before]
@cache()
@router.get("/welcome")
def welcome(response: Response) -> str:
    response.set_cookie("visited", "yes")
    return "welcome"
# --8<-- [end:set-cookie-before]

# --8<-- [start:set-cookie-after]
@cache(store_set_cookie=True)  # the cookie is the same for everyone: store it
@router.get("/welcome-shared")
def welcome_shared(response: Response) -> str:
    response.set_cookie("visited", "yes")
    return "welcome"
# --8<-- [end:set-cookie-after]

# --8<-- [start:auth-before]
@cache()
@router.get("/catalog")
def catalog() -> list[str]:
    return ["a", "b"]  # the same for every caller
# --8<-- [end:auth-before]

# --8<-- [start:auth-after]
@cache(shared=True)  # callers with Authorization may share this response ...
@router.get("/catalog-shared")
def catalog_shared(response: Response) -> list[str]:
    response.headers["Cache-Control"] = "public, max-age=60"  # ... as it says (RFC 9111 3.5)
    return ["a", "b"]


@cache(vary_headers=["Authorization"])  # or: one entry per credential
@router.get("/me")
def me() -> dict[str, str]:
    return {"me": "..."}
# --8<-- [end:auth-after]

# --8<-- [start:guard]
def need_key(x_api_key: str = Header()) -> None: ...


@cache(dependencies=[Depends(need_key)])
@router.get("/secret")
def secret() -> str:
    return "42"
# --8<-- [end:guard]

# --8<-- [start:dependency-response]
def add_request_id(response: Response) -> None:
    response.headers["X-Request-Id"] = "r-1"


@cache(dependencies=[Depends(add_request_id)])
@router.get("/tagged")
def tagged() -> str:
    return "body"
# --8<-- [end:dependency-response]

# --8<-- [start:cookie-key]
@cache()
@router.get("/profile")
def profile(session: str | None = Cookie(None)) -> dict[str, str | None]:
    return {"session": session}
# --8<-- [end:cookie-key]

# --8<-- [start:stream]
@cache()
@router.get("/export")
def export() -> StreamingResponse:
    def rows():
        yield "id,name\n"
        yield "1,Ada\n"

    return StreamingResponse(rows(), media_type="text/csv")
# --8<-- [end:stream]

# --8<-- [start:unsafe]
items = {1: "lamp"}


@cache(ttl=300)
@router.get("/items/{item_id}")
def read_item(item_id: int) -> str:
    return items[item_id]


@router.put("/items/{item_id}")
def write_item(item_id: int, name: str) -> str:
    items[item_id] = name
    return name
# --8<-- [end:unsafe]

# --8<-- [start:unsafe-after]
search_cache = FastAPICache(invalidate_on_unsafe=False)  # 0.6.0's behaviour
search_router = APIRouter(route_class=CachingRoute)


@search_cache(ttl=60)
@search_router.post("/search")
def search(q: str) -> list[str]:
    return [q]  # a cached POST: its own success must not invalidate it
# --8<-- [end:unsafe-after]

app = FastAPI()
app.include_router(router)
client = TestClient(app)
search_app = FastAPI()
search_app.include_router(search_router)

# --8<-- [start:set-cookie-check]
# 0.6.0 stored the first caller's cookie and replayed it to everyone.
first = client.get("/welcome")
assert first.cookies["visited"] == "yes"
assert "x-cache" not in first.headers  # not stored
assert "x-cache" not in client.get("/welcome").headers

assert client.get("/welcome-shared").headers["x-cache"] == "MISS"
assert client.get("/welcome-shared").headers["x-cache"] == "HIT"
# --8<-- [end:set-cookie-check]

# --8<-- [start:auth-check]
token = {"Authorization": "Bearer alice"}
assert "x-cache" not in client.get("/catalog", headers=token).headers  # bypassed
assert client.get("/catalog-shared", headers=token).headers["x-cache"] == "MISS"
assert client.get("/catalog-shared", headers={"Authorization": "Bearer bob"}).headers[
    "x-cache"
] == "HIT"
assert client.get("/me", headers=token).headers["x-cache"] == "MISS"
assert client.get("/me", headers={"Authorization": "Bearer bob"}).headers["x-cache"] == "MISS"
# --8<-- [end:auth-check]

# --8<-- [start:guard-check]
# 0.6.0: 200 with the body, the guard skipped because its input was missing.
assert client.get("/secret").status_code == 422
assert client.get("/secret", headers={"X-Api-Key": "k"}).status_code == 200
# --8<-- [end:guard-check]

# --8<-- [start:dependency-response-check]
# 0.6.0 dropped what the dependency set; now misses and hits carry it.
for expected in ("MISS", "HIT"):
    answer = client.get("/tagged")
    assert answer.headers["x-cache"] == expected
    assert answer.headers["x-request-id"] == "r-1"
# --8<-- [end:dependency-response-check]

# --8<-- [start:cookie-key-check]
# 0.6.0 keyed on query parameters only: bob got alice's profile.
alice = client.get("/profile", headers={"Cookie": "session=alice"})
bob = client.get("/profile", headers={"Cookie": "session=bob"})
assert (alice.json(), bob.json()) == ({"session": "alice"}, {"session": "bob"})
assert bob.headers["x-cache"] == "MISS"
# Undeclared cookies (analytics) do not split the cache.
again = client.get("/profile", headers={"Cookie": "session=bob; _ga=GA1.2.3"})
assert again.headers["x-cache"] == "HIT"
# --8<-- [end:cookie-key-check]

# --8<-- [start:stream-check]
# The miss streams as produced (no ETag yet: the body was not known when the
# headers left); the hit replays the whole body with its length and ETag.
miss = client.get("/export")
assert miss.headers["x-cache"] == "MISS" and "etag" not in miss.headers
hit = client.get("/export")
assert hit.headers["x-cache"] == "HIT" and hit.text == "id,name\n1,Ada\n"
assert hit.headers["content-length"] == str(len(hit.content)) and "etag" in hit.headers
# --8<-- [end:stream-check]

# --8<-- [start:status-206]
try:
    FastAPICache(accepted_status_codes={200, 206})
except ValueError as error:
    assert "206" in str(error)  # a partial response would answer every later request
# --8<-- [end:status-206]

# --8<-- [start:unsafe-check]
# 0.6.0 kept serving "lamp" until the ttl ran out.
assert client.get("/items/1").headers["x-cache"] == "MISS"
assert client.put("/items/1?name=lantern").status_code == 200
after = client.get("/items/1")
assert after.headers["x-cache"] == "MISS" and after.json() == "lantern"

search_client = TestClient(search_app)
assert search_client.post("/search?q=lamp").headers["x-cache"] == "MISS"
assert search_client.post("/search?q=lamp").headers["x-cache"] == "HIT"
# --8<-- [end:unsafe-check]
