"""Invalidation with a custom key builder: writes drop the cached read.

uvicorn examples.invalidation_app:app

curl -i localhost:8000/users/1          # MISS, then HIT
curl -i -X PUT localhost:8000/users/1 -H 'content-type: application/json' -d '{"name": "Ada L."}'
curl -i localhost:8000/users/1          # MISS again, with the new name
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel

from fastapi_caching_route import CachingRoute, FastAPICache

cache = FastAPICache()
router = APIRouter(route_class=CachingRoute)
USERS_NAMESPACE = "users"
users: dict[int, str] = {1: "Ada", 2: "Grace"}


class User(BaseModel):
    name: str


def user_key(request: Request) -> str:
    # One entry per user id, whatever the query string says.
    return f"user:{request.path_params['user_id']}"


@cache(key_builder=user_key, namespace=USERS_NAMESPACE, ttl=600)
@router.get("/users/{user_id}")
async def read_user(user_id: int) -> User:
    if user_id not in users:
        raise HTTPException(status_code=404)
    return User(name=users[user_id])


@router.put("/users/{user_id}")
async def update_user(user_id: int, user: User) -> dict[str, int]:
    users[user_id] = user.name
    namespace = cache.prepare_cache_params({"namespace": USERS_NAMESPACE}).get("namespace")
    deleted = await cache.invalidate_cached(f"user:{user_id}", namespace)
    return {"invalidated": deleted}


app = FastAPI()
app.include_router(router)
