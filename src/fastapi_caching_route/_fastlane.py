"""The fast lane: hits answered just before Starlette's routing.

Routing a request through a FastAPI app costs more than answering a hit. The
lane sits innermost, between the app's middleware (which still wraps every
hit) and the router: it learns which (method, path) pairs the router sent to a
cached route whose key needs nothing from routing (no custom key builder), and
answers later hits on those pairs with the very same plan -- early
dependencies included, and an awaited lookup for async backends (Redis) -- so
keys, safety rules and responses are identical.
Anything else -- a miss, an unknown path -- goes to the router. It is never
used when routing reads more than method and path (Host routes, a route
class with its own matching), since one (method, path) could then route to
different places.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import routing as fastapi_routing
from starlette import routing as starlette_routing
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from ._plan import CachePlan

# Set by a plan during routing: (plan, what routing added to the scope).
LEARN_KEY = "fastapi_caching_route.fast_lane"
# Set by the lane on a miss so the plan does not look the same key up twice.
MISSED_KEY = "fastapi_caching_route.missed"
# Set by the lane when it ran a route's early dependencies, so they run once.
EARLY_PASSED_KEY = "fastapi_caching_route.early_passed"
# Set by the lane after an awaited lookup that found no fresh entry: (plan,
# key, the stale entry or None, the flight count before the lookup), so the
# route goes on from there instead of asking the backend again.
LOOKED_KEY = "fastapi_caching_route.looked"

_MAX_PATHS = 10_000  # bounds the map when paths carry ids; relearned after a reset

# Route classes whose matches() reads nothing but the scope's type, method and
# path (and root_path): with only these in front, what routing chose for one
# (method, path) it chooses for every request with that method and path.
# A Host route, or a route class with a matches() of its own, reads more.
ROUTES_BY_METHOD_AND_PATH: set[Any] = {
    getattr(cls, "matches", None)
    for cls in (
        starlette_routing.Route,
        starlette_routing.Mount,
        starlette_routing.WebSocketRoute,
        starlette_routing.Router,
        fastapi_routing.APIRoute,
        fastapi_routing.APIWebSocketRoute,
        fastapi_routing.APIRouter,
        # FastAPI >= 0.160 keeps included routers and frontends as routes.
        getattr(fastapi_routing, "_IncludedRouter", None),
        getattr(fastapi_routing, "_FrontendRoute", None),
        getattr(fastapi_routing, "_FrontendRouteGroup", None),
    )
} - {None}


def routes_by_method_and_path(routes: list[Any]) -> bool:
    """Whether routing over ``routes`` depends on nothing but method and path."""
    for route in routes:
        if isinstance(route, starlette_routing.Host):
            return False
        if getattr(type(route), "matches", None) not in ROUTES_BY_METHOD_AND_PATH:
            return False
        included = getattr(route, "original_router", None)
        if included is not None and not routes_by_method_and_path(list(included.routes)):
            return False
    return True


class FastLane:
    __slots__ = ("_next", "_paths", "_plain", "_route_count", "router")

    def __init__(self, router: Any) -> None:
        self.router = router
        self._next: ASGIApp = router.middleware_stack
        self._paths: dict[tuple[str, str, str], tuple[CachePlan, dict[str, Any]]] = {}
        self._route_count = len(router.routes)
        self._plain = routes_by_method_and_path(list(router.routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            learned = self._paths.get(_lane_key(scope))
            if learned is not None and len(self.router.routes) == self._route_count:
                plan, routed = learned
                scope.update(routed)  # what routing would set (route, endpoint, path params)
                scope["path_params"] = dict(routed["path_params"])
                if plan.lane_awaits:
                    hit = await plan.answer_in_lane(scope, receive)
                else:
                    hit = plan.answer_early(scope)
                if hit is not None:
                    status, headers, body = hit
                    await send(
                        {"type": "http.response.start", "status": status, "headers": headers}
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
            await self._next(scope, receive, send)
            self._learn(scope)
            return
        await self._next(scope, receive, send)

    def _learn(self, scope: Scope) -> None:
        learned = scope.pop(LEARN_KEY, None)
        if learned is None:
            return
        if len(self.router.routes) != self._route_count:
            # Routes were added or removed: what was learned may route elsewhere now.
            self._paths.clear()
            self._route_count = len(self.router.routes)
            self._plain = routes_by_method_and_path(list(self.router.routes))
        if not self._plain:
            return  # routing reads more than method and path: never answer before it
        if len(self._paths) >= _MAX_PATHS:
            self._paths.clear()
        self._paths[_lane_key(scope)] = learned


def _lane_key(scope: Scope) -> tuple[str, str, str]:
    # Routes match on the path below root_path.
    return scope["method"], scope.get("root_path", ""), scope["path"]


def install(scope: Scope) -> bool:
    """Put a lane in front of the scope's router if it is the app's own and
    has no router middleware; returns whether a lane is in place."""
    router: Any = scope.get("router")
    owner = getattr(scope.get("app"), "router", None)
    if router is None or id(owner) != id(router):
        return False  # a mounted sub-application: its middleware must not be skipped
    stack = getattr(router, "middleware_stack", None)
    if isinstance(stack, FastLane):
        return True
    if stack is None or stack != getattr(router, "app", None):
        return False
    if not routes_by_method_and_path(list(router.routes)):
        return False  # Host routes, custom matching: only routing can tell
    router.middleware_stack = FastLane(router)
    return True
