from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Response
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache()

# --8<-- [start:identity]
oauth2 = OAuth2PasswordBearer(tokenUrl="token")


def current_user(token: Annotated[str, Depends(oauth2)]) -> str:
    return token.removeprefix("token-")


@cache(ttl=60)
@router.get("/orders")
def orders(user: Annotated[str, Depends(current_user)]) -> list[str]:
    return [f"{user}'s order"]  # the credential reaches the endpoint: per-user data
# --8<-- [end:identity]

# --8<-- [start:guard]
api_key = APIKeyHeader(name="X-API-Key")


def check_key(key: Annotated[str, Depends(api_key)]) -> None:
    if key != "partner-key":
        raise HTTPException(status_code=403)


@cache(ttl=60)
@router.get("/prices", dependencies=[Depends(check_key)])
def prices() -> dict[str, float]:
    return {"widget": 9.5}  # the same for every partner: the key only guards it
# --8<-- [end:guard]

# --8<-- [start:storage]
@cache(ttl=60)
@router.get("/private")
def private(response: Response) -> str:
    response.headers["Cache-Control"] = "private"
    return "for one user"


@cache()
@router.get("/feed")
def feed(response: Response) -> str:
    response.headers["Cache-Control"] = "max-age=30"  # the lifetime when the route sets no ttl
    return "feed"
# --8<-- [end:storage]

app = FastAPI()
app.include_router(router)
client = TestClient(app)

# --8<-- [start:identity-check]
alice = client.get("/orders", headers={"Authorization": "Bearer token-alice"})
bob = client.get("/orders", headers={"Authorization": "Bearer token-bob"})
assert alice.json() == ["alice's order"] and bob.json() == ["bob's order"]
assert "x-cache" not in alice.headers and "x-cache" not in bob.headers  # never stored
# --8<-- [end:identity-check]

# --8<-- [start:guard-check]
no_key = client.get("/prices")  # guards run before every lookup
assert no_key.status_code in (401, 403)  # FastAPI: 403 before 0.120, then 401
assert client.get("/prices", headers={"X-API-Key": "nope"}).status_code == 403
assert client.get("/prices", headers={"X-API-Key": "partner-key"}).headers["x-cache"] == "MISS"
assert client.get("/prices", headers={"X-API-Key": "partner-key"}).headers["x-cache"] == "HIT"
assert client.get("/prices", headers={"X-API-Key": "nope"}).status_code == 403  # even on a hit
# --8<-- [end:guard-check]

# --8<-- [start:storage-check]
assert "x-cache" not in client.get("/private").headers
assert client.get("/feed").headers["x-cache"] == "MISS"
assert client.get("/feed").headers["x-cache"] == "HIT"
assert cache.stats()["route"]["not_stored_private"] == 1
# --8<-- [end:storage-check]
