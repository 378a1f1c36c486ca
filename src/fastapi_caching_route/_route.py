"""CachingRoute: answers marked endpoints from the cache before they run."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from ._config import CACHE_CONFIG_ATTR, RouteCacheConfig
from ._fastlane import ROUTES_BY_METHOD_AND_PATH
from ._invalidation import SAFE_METHODS, invalidate_after_write
from ._plan import CachePlan
from ._responses import ReplayResponse
from ._types import RouteHandler

_effective_route_context_var: Any
_get_scope_effective_route_context: Any
try:  # FastAPI >= 0.160 builds included routes from a context instead of copies.
    from fastapi.routing import (
        _effective_route_context_var,
        _get_scope_effective_route_context,
    )
except ImportError:  # pragma: no cover - older FastAPI
    _effective_route_context_var = None
    _get_scope_effective_route_context = None


class CachingRoute(APIRoute):
    """FastAPI route class that serves endpoints marked with ``@cache()`` from the cache.

    ```py
    router = APIRouter(route_class=CachingRoute)
    ```
    Endpoints without the marker behave exactly as on ``APIRoute``. ``HEAD``
    requests to a cached ``GET`` endpoint are answered from its entry.
    """

    def get_route_handler(self) -> RouteHandler:
        route: Any = self
        if _effective_route_context_var is not None:
            context = _effective_route_context_var.get()
            if context is not None and context.original_route is self:
                route = context
        return _CachingHandler(
            original=super().get_route_handler(),
            endpoint=self.endpoint,
            path=route.path,
            dependant=route.dependant,
            overrides_provider=route.dependency_overrides_provider,
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("method") == "HEAD" and self._serves_head_from_get():
            match, child_scope = super().matches({**scope, "method": "GET"})
            # PARTIAL, not FULL: a route that declares HEAD itself still wins;
            # otherwise the router hands the request to handle() below.
            return (Match.PARTIAL if match is Match.FULL else match), child_scope
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD" and self._serves_head_from_get():
            # The method check of APIRoute.handle would answer 405.
            app = self.app
            if _get_scope_effective_route_context is not None:
                context = _get_scope_effective_route_context(scope)
                if context is not None and context.original_route is self:
                    app = context.app
            await app(scope, receive, send)
            return
        await super().handle(scope, receive, send)

    def _serves_head_from_get(self) -> bool:
        methods = self.methods or set()
        return (
            "GET" in methods
            and "HEAD" not in methods
            and isinstance(getattr(self.endpoint, CACHE_CONFIG_ATTR, None), RouteCacheConfig)
        )


# HEAD-from-GET reads the method, as Route.matches does; nothing else.
ROUTES_BY_METHOD_AND_PATH.add(CachingRoute.matches)


class _CachingHandler:
    """The route handler; the marker is read at the first request because
    ``@cache()`` sits above ``@router.get()`` and so runs after the route exists."""

    __slots__ = ("_dependant", "_endpoint", "_original", "_overrides", "_path", "_plan")

    def __init__(
        self,
        *,
        original: RouteHandler,
        endpoint: Any,
        path: str,
        dependant: Dependant,
        overrides_provider: Any,
    ) -> None:
        self._original = original
        self._endpoint = endpoint
        self._path = path
        self._dependant = dependant
        self._overrides = overrides_provider
        self._plan: CachePlan | None = None

    async def __call__(self, request: Request) -> Response:
        config = getattr(self._endpoint, CACHE_CONFIG_ATTR, None)
        if not isinstance(config, RouteCacheConfig):
            response = await self._original(request)
        else:
            plan = self._plan
            if plan is None or plan.config is not config:
                plan = self._plan = CachePlan(config, self._path, self._dependant, self._overrides)
            response = await plan.handle(request, self._original)
        if request.scope["method"] not in SAFE_METHODS and not isinstance(response, ReplayResponse):
            await invalidate_after_write(request.scope, response)
        return response
