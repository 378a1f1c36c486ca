"""The edge lane: hits of chosen routes answered before the app's middleware.

``app = cache.edge(app)`` wraps the ASGI app. A route marked
``@cache(edge=True)`` teaches the lane which (method, root_path, path) it
serves, once routing has sent such a request to it untouched by middleware;
later requests for that path are answered by the very same plan -- same
keys, same rules, same engine call -- before any middleware runs. Anything
else (a miss, a bypass, an unknown path) goes to the app unchanged.

What it skips, by design: every middleware of the app for those hits (CORS,
authentication, sessions, GZip, TrustedHost, HTTPS redirects, headers your
own middleware adds, request logging) and the app's exception handlers.
Routes with early dependencies or a custom key builder are never answered
there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ._fastlane import routes_by_method_and_path

if TYPE_CHECKING:
    from ._plan import CachePlan

# Set by the lane on every request it passes on: what it saw, so a route
# learns only paths that no middleware rewrote.
SEEN_KEY = "fastapi_caching_route.edge_seen"

_MAX_PATHS = 10_000  # bounds the table when paths carry ids; relearned after a reset


class EdgeLane:
    """An ASGI app answering hits of ``edge=True`` routes in front of ``app``."""

    __slots__ = ("_paths", "app")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._paths: dict[tuple[str, str, str], CachePlan] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen = (scope["method"], scope.get("root_path", ""), scope["path"])
            plan = self._paths.get(seen)
            if plan is not None:
                hit = plan.answer_early(scope)
                if hit is not None:
                    status, headers, body = hit
                    await send(
                        {"type": "http.response.start", "status": status, "headers": headers}
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
            scope[SEEN_KEY] = (self, seen)
        await self.app(scope, receive, send)

    def learn(self, scope: Scope, plan: CachePlan) -> None:
        """Called by a route's plan: remember its path if nothing rewrote it and
        routing over the app reads nothing but method and path."""
        seen = scope.get(SEEN_KEY)
        if seen is None or seen[0] is not self:
            return
        here = (scope["method"], scope.get("root_path", ""), scope["path"])
        if seen[1] != here:
            return  # a middleware rewrote the request: only routing can tell
        router: Any = getattr(scope.get("app"), "router", None)
        if router is None or not routes_by_method_and_path(list(router.routes)):
            return
        if len(self._paths) >= _MAX_PATHS:
            self._paths.clear()
        self._paths[here] = plan

    def forget(self) -> None:
        """Drop what was learned (after routes change)."""
        self._paths.clear()
