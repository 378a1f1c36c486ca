"""Invalidation after writes (RFC 9111 section 4.4) and the implicit path tag.

"A cache MUST invalidate the target URI ... when it receives a non-error
status code in response to an unsafe request method (including methods whose
safety is unknown)", and "MAY invalidate other URIs" -- those in Location and
Content-Location, when they are the same origin. Every entry carries its
target path as a tag, so invalidating a path is invalidating that tag, in
every namespace of every cache the app's cached routes use (and that has
invalidate_on_unsafe on), on every worker its backend reaches.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.types import Scope

from ._config import CACHE_CONFIG_ATTR

if TYPE_CHECKING:
    from ._cache import FastAPICache

# RFC 9110 section 9.2.1: the methods defined as safe.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# The caches of an app's cached routes, kept on its router, found again when
# its routes change: (route count, caches).
_CACHES_ATTR = "_fastapi_caching_route_caches"


def path_tag(path: str) -> str:
    """The implicit tag of every entry stored for a target path."""
    return "path:" + path


def invalidates(scope: Scope, response: Response) -> bool:
    """Whether this answer to this request invalidates its target (section 4.4)."""
    return scope["method"] not in SAFE_METHODS and 200 <= response.status_code < 400


def invalidated_paths(scope: Scope, response: Response) -> list[str]:
    """The target path, and the same-origin paths of Location / Content-Location."""
    paths = [scope["path"]]
    host = _host_of(scope)
    for name in ("location", "content-location"):
        for value in response.headers.getlist(name):
            path = _same_origin_path(value, scope, host)
            if path is not None and path not in paths:
                paths.append(path)
    return paths


async def invalidate_after_write(scope: Scope, response: Response) -> None:
    if not invalidates(scope, response):
        return
    tags = [path_tag(path) for path in invalidated_paths(scope, response)]
    for cache in caches_of(scope.get("router")):
        if cache.invalidate_on_unsafe:
            await cache.invalidate_after_write(tags)


def caches_of(router: Any) -> list[FastAPICache]:
    """The caches used by the cached routes under `router` (the app's)."""
    if router is None:
        return []
    routes = getattr(router, "routes", [])
    known = getattr(router, _CACHES_ATTR, None)
    if known is not None and known[0] == len(routes):
        caches: list[FastAPICache] = known[1]
        return caches
    found: dict[int, FastAPICache] = {}
    _collect(routes, found, depth=0)
    caches = list(found.values())
    with contextlib.suppress(AttributeError, TypeError):  # found again next time
        setattr(router, _CACHES_ATTR, (len(routes), caches))
    return caches


def _collect(routes: Any, found: dict[int, FastAPICache], depth: int) -> None:
    if depth > 32:
        return
    for route in routes:
        config = getattr(getattr(route, "endpoint", None), CACHE_CONFIG_ATTR, None)
        cache = getattr(config, "cache", None)
        if cache is not None:
            found.setdefault(id(cache), cache)
        # FastAPI >= 0.160 keeps included routers as routes of their own.
        included = getattr(route, "original_router", None)
        if included is not None:
            _collect(getattr(included, "routes", []), found, depth + 1)


def _host_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1")).lower()
    return None


def _same_origin_path(value: str, scope: Scope, host: str | None) -> str | None:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        # Section 4.4: "only ... if the host part ... is the same as ... the
        # target URI" -- another origin's entries are not ours to drop.
        same_scheme = not parts.scheme or parts.scheme == scope.get("scheme", "http")
        if not same_scheme or host is None or parts.netloc.lower() != host:
            return None
    if not parts.path.startswith("/"):
        return None
    return parts.path
