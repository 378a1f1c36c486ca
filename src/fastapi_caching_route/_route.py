"""CachingRoute: answers marked endpoints from the cache before they run."""

from __future__ import annotations

import inspect
import logging
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_parameterless_sub_dependant, solve_dependencies
from fastapi.routing import APIRoute
from starlette.responses import StreamingResponse

from . import _core
from ._config import CACHE_CONFIG_ATTR, RouteCacheConfig
from ._entry import StoredResponse
from ._keys import declared_query_params
from ._responses import ReplayResponse, capture_stream
from ._types import RouteHandler

try:  # FastAPI >= 0.160 builds included routes from a context instead of copies.
    from fastapi.routing import _effective_route_context_var
except ImportError:  # pragma: no cover - older FastAPI
    _effective_route_context_var = None

logger = logging.getLogger("fastapi_caching_route")

_CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})


class CachingRoute(APIRoute):
    """FastAPI route class that serves endpoints marked with ``@cache()`` from the cache.

    ```py
    router = APIRouter(route_class=CachingRoute)
    ```
    Endpoints without the marker behave exactly as on ``APIRoute``.
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
        self._plan: _CachePlan | None = None

    async def __call__(self, request: Request) -> Response:
        config = getattr(self._endpoint, CACHE_CONFIG_ATTR, None)
        if not isinstance(config, RouteCacheConfig):
            return await self._original(request)
        plan = self._plan
        if plan is None or plan.config is not config:
            plan = self._plan = _CachePlan(config, self._path, self._dependant, self._overrides)
        return await plan.handle(request, self._original)


class _CachePlan:
    """Everything a cached route needs per request, resolved once."""

    __slots__ = (
        "backend",
        "cache",
        "config",
        "early",
        "key_spec",
        "namespace",
        "overrides",
        "synchronous",
        "ttl",
    )

    def __init__(
        self, config: RouteCacheConfig, path: str, dependant: Dependant, overrides: Any
    ) -> None:
        self.config = config
        self.cache = config.cache
        self.backend = config.cache.backend
        self.synchronous = self.backend.synchronous
        params = self.cache.prepare_cache_params(config.params)
        self.namespace = params.get("namespace")
        self.ttl = params.get("ttl")
        self.overrides = overrides
        self.early: Dependant | None = None
        if config.early_dependencies:
            self.early = Dependant(
                dependencies=[
                    get_parameterless_sub_dependant(depends=d, path=path)
                    for d in config.early_dependencies
                ]
            )
        self.key_spec = _core.KeySpec(declared_query_params(dependant), list(config.vary_headers))

    async def handle(self, request: Request, original: RouteHandler) -> Response:
        if self.early is not None and not await self._early_dependencies_pass(request):
            # Validation errors: the normal handler reports them.
            return await original(request)
        key = await self._key(request)
        entry = await self._lookup(key)
        if entry is not None:
            return self._replay(entry, request.scope)
        response = await original(request)
        return await self._store(response, key)

    async def _early_dependencies_pass(self, request: Request) -> bool:
        assert self.early is not None
        async with AsyncExitStack() as stack:
            solved = await solve_dependencies(
                request=request,
                dependant=self.early,
                async_exit_stack=stack,
                embed_body_fields=False,
                dependency_overrides_provider=self.overrides,
            )
        return not solved.errors

    async def _key(self, request: Request) -> str:
        builder = self.config.key_builder
        if builder is None:
            key: str = self.key_spec.from_scope(request.scope)
            return key
        custom: Any = builder(request)
        if inspect.isawaitable(custom):
            custom = await custom
        if not isinstance(custom, str):
            raise TypeError(f"key_builder must return a str, got {type(custom).__name__}")
        return custom

    async def _lookup(self, key: str) -> StoredResponse | None:
        try:
            if self.synchronous:
                return self.backend.get_nowait(key, self.namespace)
            return await self.backend.get(key, self.namespace)
        except Exception:  # the cache failing must never fail the request
            logger.warning("cache lookup failed; serving uncached", exc_info=True)
            return None

    def _replay(self, entry: StoredResponse, scope: dict[str, Any]) -> Response:
        hit_header = self.cache.hit_header
        if entry.etag and 200 <= entry.status_code < 300 and scope["method"] in _CONDITIONAL_METHODS:
            if_none_match = _request_header(scope, b"if-none-match")
            if if_none_match is not None and _core.if_none_match_matches(
                if_none_match.decode("latin-1"), entry.etag
            ):
                return ReplayResponse(304, [*entry.not_modified_headers, hit_header], b"")
        return ReplayResponse(entry.status_code, [*entry.raw_headers, hit_header], entry.body)

    async def _store(self, response: Response, key: str) -> Response:
        cache = self.cache
        if response.status_code not in cache.accepted_status_codes:
            return response
        headers = response.headers
        vary = headers.get("vary", "")
        if self.config.vary_headers:
            merged = _core.merge_vary(vary, list(self.config.vary_headers))
            if merged != vary:
                headers["vary"] = vary = merged
        if vary and _core.parse_vary(vary)[0]:
            return response  # Vary: * -- every request may differ

        if isinstance(response, StreamingResponse):
            body = await capture_stream(response, cache.max_body_bytes)
            if body is None:
                return response
            extra: tuple[tuple[bytes, bytes], ...] = ()
            if "content-length" not in headers:
                # Hits send the body in one piece, so they can say its length.
                extra = ((b"content-length", str(len(body)).encode("latin-1")),)
        else:
            body = getattr(response, "body", None)
            if not isinstance(body, bytes) or len(body) > cache.max_body_bytes:
                return response
            extra = ()

        if "etag" not in headers:
            headers["etag"] = _core.etag_for_body(body)
        entry = StoredResponse(
            response.status_code, (*response.raw_headers, *extra), body, response.media_type
        )
        try:
            stored = await self.backend.set(key, entry, namespace=self.namespace, ttl=self.ttl)
        except Exception:
            logger.warning("cache store failed; response served uncached", exc_info=True)
            stored = False
        if stored:
            cache.set_cache_header(headers, hit=False)
        return response


def _request_header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None
