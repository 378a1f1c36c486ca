import logging
import socket

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

with socket.socket() as probe:  # a loopback port where nothing listens
    probe.bind(("127.0.0.1", 0))
    DOWN = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
logging.disable(logging.ERROR)  # the page's run stays quiet; the errors are logged

# --8<-- [start:fail-open]
from fastapi_caching_route import CachingRoute, CircuitBreaker, FastAPICache, RedisBackend

backend = RedisBackend.from_url(DOWN, timeout=0.25)  # a Redis that is down
backend.breaker = CircuitBreaker(threshold=5, cooldown=5.0)  # the default
cache = FastAPICache(backend)
router = APIRouter(route_class=CachingRoute)


@cache(ttl=60)
@router.get("/quote")
async def quote() -> dict[str, str]:
    return {"quote": "still served"}


app = FastAPI()
app.include_router(router)

with TestClient(app) as client:
    for _ in range(8):
        answer = client.get("/quote")
        assert answer.status_code == 200 and answer.json() == {"quote": "still served"}
        assert "x-cache" not in answer.headers  # served uncached

stats = cache.stats()
assert stats["skipped_breaker_open"] > 0  # after 5 failures Redis is left alone for 5 s
# --8<-- [end:fail-open]
