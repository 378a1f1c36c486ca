"""The smallest cached app: one endpoint, the native in-process store.

uvicorn examples.minimal_app:app
"""

from fastapi import APIRouter, FastAPI

from fastapi_caching_route import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache()


@cache(ttl=60)
@router.get("/hello")
async def hello(name: str = "world") -> dict[str, str]:
    return {"message": f"Hello, {name}!"}


app = FastAPI()
app.include_router(router)
