# Drives examples/invalidation_app.py, which the page shows whole.
import asyncio

from fastapi.testclient import TestClient

from examples.invalidation_app import USERS_NAMESPACE, app, cache

# --8<-- [start:check]
client = TestClient(app)
assert client.get("/users/1").headers["x-cache"] == "MISS"
assert client.get("/users/1").json() == {"name": "Ada"}  # HIT

written = client.put("/users/1", json={"name": "Ada L."})
assert written.json() == {"invalidated": 1}

fresh = client.get("/users/1")
assert fresh.headers["x-cache"] == "MISS" and fresh.json() == {"name": "Ada L."}
# --8<-- [end:check]

# --8<-- [start:clear]
# Drop every entry of a namespace at once (O(1) on the native store).
client.get("/users/2")
namespace = cache.prepare_cache_params({"namespace": USERS_NAMESPACE}).get("namespace")
removed = asyncio.run(cache.clear(namespace))
assert removed == 2
assert client.get("/users/2").headers["x-cache"] == "MISS"
# --8<-- [end:clear]
