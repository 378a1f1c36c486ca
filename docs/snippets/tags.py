import asyncio

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from fastapi_caching_route import CachingRoute, FastAPICache

# --8<-- [start:app]
cache = FastAPICache(tag_header="Surrogate-Key", stale_while_revalidate=60)
router = APIRouter(route_class=CachingRoute)
products = {7: "lamp", 8: "desk"}


@cache(tags=["products"])
@router.get("/products")
def list_products() -> dict[int, str]:
    return products


@cache(tags=lambda request: ["products", f"product:{request.path_params['pid']}"])
@router.get("/products/{pid}")
def read_product(pid: int) -> str:
    return products[pid]


@router.put("/products/{pid}")
def write_product(pid: int, name: str) -> str:
    products[pid] = name
    return name  # a 2xx to an unsafe method: the entries of /products/{pid} go


app = FastAPI()
app.include_router(router)
# --8<-- [end:app]

client = TestClient(app)

# --8<-- [start:hard]
for path in ("/products", "/products/7", "/products/8"):
    assert client.get(path).headers["x-cache"] == "MISS"
assert client.get("/products/7").headers["surrogate-key"] == "products product:7"

assert asyncio.run(cache.invalidate_tags("product:7")) == 1  # removed
assert client.get("/products/7").headers["x-cache"] == "MISS"
# --8<-- [end:hard]

# --8<-- [start:after-writes]
assert client.get("/products/7").headers["x-cache"] == "HIT"
assert client.put("/products/7?name=lantern").status_code == 200
fresh = client.get("/products/7")  # the write invalidated every entry of its path
assert fresh.headers["x-cache"] == "MISS" and fresh.json() == "lantern"
# --8<-- [end:after-writes]

# --8<-- [start:soft]
# The entries stay, stale: within stale-while-revalidate they are answered at
# once while one refresh per key runs; outside it they are revalidated.
assert asyncio.run(cache.invalidate_tags("products", soft=True)) == 3
assert client.get("/products/8").headers["x-cache"] == "STALE"
# --8<-- [end:soft]
