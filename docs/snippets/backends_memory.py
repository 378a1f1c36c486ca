import logging

from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache, MemoryBackend

# --8<-- [start:sizing]
# Responses up to 8 MiB (max_body_bytes, the default), at most 64 MiB in all
# and 100,000 entries; S3-FIFO eviction ("lru" and "sieve" exist too).
cache = FastAPICache(
    MemoryBackend(max_bytes=64 * 1024 * 1024, max_entries=100_000, policy="s3fifo"),
    max_body_bytes=8 * 1024 * 1024,
)
# --8<-- [end:sizing]

# --8<-- [start:too-large]
small = FastAPICache(MemoryBackend(max_bytes=64 * 1024))
router = APIRouter(route_class=CachingRoute)


@small()
@router.get("/big")
def big() -> PlainTextResponse:
    return PlainTextResponse("x" * 100_000)  # larger than the whole store


app = FastAPI()
app.include_router(router)
logging.disable(logging.WARNING)  # the first refusal is logged; keep this page's run quiet
client = TestClient(app)
assert len(client.get("/big").content) == 100_000  # served, not stored
assert "x-cache" not in client.get("/big").headers
stats = small.stats()
assert stats["rejections"] == 2 and stats["entries"] == 0
# --8<-- [end:too-large]

# --8<-- [start:stats]
assert set(stats) >= {"hits", "misses", "inserts", "evictions", "expirations", "bytes", "entries"}
# --8<-- [end:stats]
