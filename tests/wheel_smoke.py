"""Smoke test of an installed wheel: import it, serve examples/minimal_app.py.

Run by `make test-wheel` in a fresh venv holding only the wheel and its
dependencies, and by cibuildwheel after each build (`test-command`). Needs
fastapi and Starlette's TestClient client (httpx2), no pytest. Exits non-zero on the first failure.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    import fastapi_caching_route
    from fastapi_caching_route import _core

    package = Path(fastapi_caching_route.__file__).resolve().parent
    # The installed copy, not the source tree next to this file.
    assert ROOT / "src" not in package.parents, package
    assert Path(_core.__file__).parent == package, _core.__file__
    print(f"fastapi_caching_route {fastapi_caching_route.__version__} from {package}")
    print(f"_core: {Path(_core.__file__).name}")

    spec = importlib.util.spec_from_file_location("minimal_app", ROOT / "examples/minimal_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    with TestClient(module.app) as client:
        miss = client.get("/hello", params={"name": "wheel"})
        assert miss.status_code == 200, miss
        assert miss.headers["x-cache"] == "MISS", miss.headers
        assert miss.json() == {"message": "Hello, wheel!"}
        hit = client.get("/hello?name=wheel")
        assert hit.headers["x-cache"] == "HIT", hit.headers
        assert hit.content == miss.content
        etag = hit.headers["etag"]
        not_modified = client.get("/hello?name=wheel", headers={"If-None-Match": etag})
        assert not_modified.status_code == 304, not_modified
        assert not_modified.content == b""
    stats = module.cache.stats()
    assert stats["hits"] >= 2 and stats["inserts"] == 1, stats
    print("MISS, HIT, 304: ok")


if __name__ == "__main__":
    main()
    sys.exit(0)
