"""The fast lane: hits answered just before Starlette's routing.

Routing a request through a FastAPI app costs more than answering a hit. The
lane sits innermost, between the app's middleware (which still wraps every
hit) and the router: it learns which (method, path) pairs the router sent to a
cached route whose key needs nothing from routing (no custom key builder), and
answers later hits on those pairs with the very same plan -- early
dependencies included -- so keys, safety rules and responses are identical.
Anything else -- a miss, an unknown path -- goes to the router.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from ._plan import CachePlan

# Set by a plan during routing: (plan, what routing added to the scope).
LEARN_KEY = "fastapi_caching_route.fast_lane"
# Set by the lane on a miss so the plan does not look the same key up twice.
MISSED_KEY = "fastapi_caching_route.missed"
# Set by the lane when it ran a route's early dependencies, so they run once.
EARLY_PASSED_KEY = "fastapi_caching_route.early_passed"

_MAX_PATHS = 10_000  # bounds the map when paths carry ids; relearned after a reset


class FastLane:
    __slots__ = ("_next", "_paths", "_route_count", "router")

    def __init__(self, router: Any) -> None:
        self.router = router
        self._next: ASGIApp = router.middleware_stack
        self._paths: dict[tuple[str, str], tuple[CachePlan, dict[str, Any]]] = {}
        self._route_count = len(router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            learned = self._paths.get((scope["method"], scope["path"]))
            if learned is not None and len(self.router.routes) == self._route_count:
                plan, routed = learned
                scope.update(routed)  # what routing would set (route, endpoint, path params)
                scope["path_params"] = dict(routed["path_params"])
                if plan.early is None:
                    hit = plan.answer_early(scope)
                else:
                    hit = await plan.answer_early_after_dependencies(scope, receive)
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
        if len(self._paths) >= _MAX_PATHS:
            self._paths.clear()
        self._paths[(scope["method"], scope["path"])] = learned


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
    router.middleware_stack = FastLane(router)
    return True
