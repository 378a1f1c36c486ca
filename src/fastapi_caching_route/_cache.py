"""FastAPICache: configuration, the ``@cache`` decorator and the invalidation API."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, ParamSpec, TypeVar

from fastapi.params import Depends
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp

from ._config import (
    CACHE_CONFIG_ATTR,
    RouteCacheConfig,
    is_header_token,
    validate_dependencies,
    validate_flag,
    validate_header_names,
    validate_max_age,
    validate_methods,
    validate_namespace,
    validate_tags,
    validate_ttl,
)
from ._edge import EdgeLane
from ._entry import StoredResponse
from ._log import RateLimitedLog
from ._refresh import Refreshes
from ._types import (
    DEFAULT_ACCEPTED_STATUS_CODES,
    CachedResponse,
    CacheParamsBase,
    KeyBuilder,
    TagsBuilder,
)
from .backends.aiocache import AiocacheBackend, is_aiocache_cache
from .backends.base import CacheBackend, validate_max_variants
from .backends.memory import MemoryBackend

_P = ParamSpec("_P")
_T = TypeVar("_T")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_KEY_LENGTH = 8 * 1024
DEFAULT_KEEP_STALE = 300.0
DEFAULT_HEURISTIC_MAX_AGE = 86400.0


class FastAPICache:
    """Manages cached routes.

    ``cache`` is where responses live: omit it for the native in-process store
    (:class:`MemoryBackend`), pass one of our backends, or pass any aiocache
    cache instance as release 0.6.0 required.

    ```py
    from fastapi import APIRouter, FastAPI
    from fastapi_caching_route import CachingRoute, FastAPICache

    router = APIRouter(route_class=CachingRoute)
    cache = FastAPICache()

    @cache(ttl=60)
    @router.get("/")
    def cached() -> str:
        return "Hello, World!"

    app = FastAPI()
    app.include_router(router)
    ```

    ``fast_lane`` lets hits on routes without early dependencies or a custom
    key builder be answered just before routing (still inside every
    middleware of the app); turn it off to route every request.

    ``coalesce`` makes concurrent misses for one key run the endpoint once:
    the others wait up to ``coalesce_timeout`` seconds for its response, then
    run the endpoint themselves.

    ``namespace_policy='concat'`` joins the backend's root namespace and a
    route's (``root:route``); ``'replace'`` uses the route's alone.

    HTTP freshness (RFC 9111 section 4.2): an entry is fresh for the route's
    ``ttl``, else the response's ``s-maxage``, ``max-age`` or ``Expires``;
    after that it is kept ``keep_stale`` seconds more and revalidated with the
    endpoint (which sees the entry's validators as ``If-None-Match`` /
    ``If-Modified-Since``; a 304 freshens the entry). A response without
    explicit freshness stays fresh until invalidated, as in 0.6.0, unless
    ``shared_cache_freshness=True``: it is then revalidated on reuse, or
    given a heuristic lifetime (10 % of its age since ``Last-Modified``, at
    most ``heuristic_max_age``) with ``heuristic_freshness=True``.
    ``cache_status=True`` adds ``Cache-Status`` (RFC 9211) to every response
    of a cached route; ``cdn_cache_control=True`` takes freshness and
    storability from ``CDN-Cache-Control`` (RFC 9213) when a response has it,
    and ``strip_cdn_cache_control=True`` removes that field from responses.

    A response whose own ``Vary`` names request fields is reused only for
    requests with the same values of them (RFC 9111 section 4.1); each key
    keeps at most ``max_variants`` such responses (the backend's, 32 unless
    set), the oldest giving way.
    """

    __slots__ = (
        "__weakref__",
        "_cache_header",
        "_cache_header_hit",
        "_cache_header_miss",
        "_concat_namespace",
        "accepted_status_codes",
        "backend",
        "cache_status_name",
        "cdn_cache_control",
        "coalesce",
        "coalesce_timeout",
        "compress",
        "counters",
        "fast_lane",
        "heuristic_freshness",
        "heuristic_max_age",
        "hit_header",
        "invalidate_on_unsafe",
        "keep_stale",
        "log",
        "max_background_refreshes",
        "max_body_bytes",
        "max_key_length",
        "miss_header",
        "namespaces",
        "refreshes",
        "shared_cache_freshness",
        "stale_header",
        "stale_if_error",
        "stale_while_revalidate",
        "strip_cdn_cache_control",
        "tag_header",
    )

    def __init__(
        self,
        cache: CacheBackend | Any | None = None,
        *,
        namespace_policy: Literal["concat", "replace"] = "concat",
        cache_header: str = "X-Cache",
        cache_header_hit: str = "HIT",
        cache_header_miss: str = "MISS",
        cache_header_stale: str = "STALE",
        accepted_status_codes: Iterable[int] = DEFAULT_ACCEPTED_STATUS_CODES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_key_length: int = DEFAULT_MAX_KEY_LENGTH,
        fast_lane: bool = True,
        coalesce: bool = True,
        coalesce_timeout: float = 10.0,
        max_variants: int | None = None,
        keep_stale: float = DEFAULT_KEEP_STALE,
        shared_cache_freshness: bool = False,
        heuristic_freshness: bool = False,
        heuristic_max_age: float = DEFAULT_HEURISTIC_MAX_AGE,
        cache_status: bool = False,
        cache_status_name: str = "fastapi-caching-route",
        cdn_cache_control: bool = False,
        strip_cdn_cache_control: bool = False,
        stale_while_revalidate: float | None = None,
        stale_if_error: float | None = None,
        max_background_refreshes: int = 16,
        invalidate_on_unsafe: bool = True,
        tag_header: str | None = None,
        compress: bool = False,
    ) -> None:
        if namespace_policy not in ("concat", "replace"):
            raise ValueError(
                f"namespace_policy must be 'concat' or 'replace', got {namespace_policy!r}"
            )
        for name, value in (
            ("cache_header", cache_header),
            ("cache_header_hit", cache_header_hit),
            ("cache_header_miss", cache_header_miss),
            ("cache_header_stale", cache_header_stale),
        ):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        if not is_header_token(cache_header):
            raise ValueError(f"cache_header must be a valid header name, got {cache_header!r}")
        for name, value in (
            ("cache_header_hit", cache_header_hit),
            ("cache_header_miss", cache_header_miss),
            ("cache_header_stale", cache_header_stale),
        ):
            if not _is_field_value(value):
                raise ValueError(f"{name} must be a printable header value, got {value!r}")
        self.accepted_status_codes = _validate_status_codes(accepted_status_codes)
        for name, limit in (("max_body_bytes", max_body_bytes), ("max_key_length", max_key_length)):
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError(f"{name} must be an int")
            if limit <= 0:
                raise ValueError(f"{name} must be positive, got {limit}")

        self.backend = _resolve_backend(cache)
        if max_variants is not None:
            self.backend.max_variants = validate_max_variants(max_variants)
        self.max_body_bytes = max_body_bytes
        self.max_key_length = max_key_length
        self.fast_lane = validate_flag("fast_lane", fast_lane)
        self.coalesce = validate_flag("coalesce", coalesce)
        if isinstance(coalesce_timeout, bool) or not isinstance(coalesce_timeout, (int, float)):
            raise TypeError("coalesce_timeout must be a number of seconds")
        if not coalesce_timeout > 0 or coalesce_timeout == float("inf"):
            raise ValueError(f"coalesce_timeout must be positive, got {coalesce_timeout!r}")
        self.coalesce_timeout = float(coalesce_timeout)
        self.keep_stale = _seconds("keep_stale", keep_stale, allow_zero=True)
        self.backend.keep_stale = self.keep_stale  # soft tag invalidations keep entries as long
        self.stale_while_revalidate = _optional_seconds(
            "stale_while_revalidate", stale_while_revalidate
        )
        self.stale_if_error = _optional_seconds("stale_if_error", stale_if_error)
        if isinstance(max_background_refreshes, bool) or not isinstance(
            max_background_refreshes, int
        ):
            raise TypeError("max_background_refreshes must be an int")
        if max_background_refreshes < 1:
            raise ValueError(
                f"max_background_refreshes must be >= 1, got {max_background_refreshes}"
            )
        self.max_background_refreshes = max_background_refreshes
        self.refreshes = Refreshes(max_background_refreshes)
        if tag_header is not None and (
            not isinstance(tag_header, str) or not is_header_token(tag_header)
        ):
            raise ValueError(f"tag_header must be a header name or None, got {tag_header!r}")
        self.tag_header = tag_header
        # The namespaces its routes store in: tag invalidations reach each.
        self.namespaces: set[str | None] = {None}
        self.invalidate_on_unsafe = validate_flag("invalidate_on_unsafe", invalidate_on_unsafe)
        self.compress = validate_flag("compress", compress)
        self.shared_cache_freshness = validate_flag(
            "shared_cache_freshness", shared_cache_freshness
        )
        self.heuristic_freshness = validate_flag("heuristic_freshness", heuristic_freshness)
        self.heuristic_max_age = _seconds("heuristic_max_age", heuristic_max_age)
        self.cdn_cache_control = validate_flag("cdn_cache_control", cdn_cache_control)
        self.strip_cdn_cache_control = validate_flag(
            "strip_cdn_cache_control", strip_cdn_cache_control
        )
        validate_flag("cache_status", cache_status)
        if not isinstance(cache_status_name, str) or not is_header_token(cache_status_name):
            raise ValueError(
                f"cache_status_name must be a token (RFC 9211 section 2), got {cache_status_name!r}"
            )
        # Cache-Status (RFC 9211) names this cache in each entry; None: not sent.
        self.cache_status_name: bytes | None = (
            cache_status_name.encode("ascii") if cache_status else None
        )
        # Why requests bypassed the cache or responses were not stored.
        self.counters: Counter[str] = Counter()
        self.log = RateLimitedLog()
        self._concat_namespace = namespace_policy == "concat"
        self._cache_header = cache_header
        self._cache_header_hit = cache_header_hit
        self._cache_header_miss = cache_header_miss
        header_name = cache_header.lower().encode("latin-1")
        self.hit_header = (header_name, cache_header_hit.encode("latin-1"))
        self.miss_header = (header_name, cache_header_miss.encode("latin-1"))
        self.stale_header = (header_name, cache_header_stale.encode("latin-1"))

    def __call__(
        self,
        *,
        key_builder: KeyBuilder | None = None,
        dependencies: Sequence[Depends] = (),
        vary_headers: Sequence[str] = (),
        namespace: str | None = None,
        ttl: float | None = None,
        shared: bool = False,
        ignore_response_cache_control: bool = False,
        store_set_cookie: bool = False,
        client_max_age: int | None = None,
        set_last_modified: bool = True,
        honor_request_cache_control: bool = False,
        cached_methods: Iterable[str] | None = None,
        stale_while_revalidate: float | None = None,
        stale_if_error: float | None = None,
        tags: Sequence[str] | TagsBuilder | None = None,
        edge: bool = False,
        compress: bool | None = None,
    ) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
        """Mark an endpoint for caching by :class:`CachingRoute`.

        Put it *above* the router decorator:

        ```py
        @cache(ttl=30, vary_headers=["accept-language"])
        @router.get("/items")
        async def items(q: str | None = None) -> list[str]: ...
        ```

        ``dependencies`` run before the lookup (e.g. an API-key check whose
        401 must win over a hit; a missing input is a 422 as on the route);
        ``key_builder(request) -> str`` replaces the default key (method,
        path, the query, header and cookie parameters the route declares, and
        ``vary_headers``).

        Safety defaults and their opt-outs:

        - ``shared=True``: requests with ``Authorization``, or with the
          credential of a security scheme whose value reaches the endpoint
          (``user = Depends(current_user)``), may be answered from and stored
          in the cache; otherwise only a route that keys on the credential
          (``vary_headers``, a declared header/cookie/query parameter, a custom
          ``key_builder``) allows that. Early dependencies prove the caller
          may see the response, not that every caller gets the same one;
        - ``ignore_response_cache_control=True``: store responses marked
          ``no-store`` or ``private`` and ignore their ``max-age``;
        - ``store_set_cookie=True``: store responses that set cookies;
        - ``honor_request_cache_control=True``: a client's ``no-cache``
          bypasses the lookup and ``no-store`` skips storing.

        ``stale_while_revalidate=N`` (RFC 5861): for N seconds after an entry
        expires, requests are answered at once from it (``X-Cache: STALE``)
        while one background refresh per key asks the endpoint;
        ``stale_if_error=N``: for N seconds after expiry, an endpoint that
        raises or answers 5xx is replaced by the stale entry. Both default to
        the cache's settings, else to the response's own ``Cache-Control``
        directives of the same names; ``must-revalidate`` forbids both.

        ``tags`` (surrogate keys) label the stored responses for
        :meth:`invalidate_tags`: a list of strings, or a function of the
        request (sync or async) returning them.

        ``compress=True`` (default: the cache's ``compress``) stores the body
        once per content coding -- gzip, and br when the ``brotli`` package is
        installed -- and answers each client with the coding its
        ``Accept-Encoding`` prefers (``Content-Encoding``, ``Vary:
        Accept-Encoding`` and a weak ETag per coding set); hits are never
        compressed again, by us or by ``GZipMiddleware``.

        ``edge=True`` lets :meth:`edge` answer the route's hits before the app's
        middleware.

        ``cached_methods`` limits caching to those methods (e.g. ``("GET",)`` on
        a route that serves several); others pass through.

        ``client_max_age`` sends ``Cache-Control: max-age=N`` to clients (never
        more than the entry's lifetime); ``set_last_modified`` gives stored
        responses without ``Last-Modified`` the time they were stored, which
        makes ``If-Modified-Since`` work.
        """
        if key_builder is not None and not callable(key_builder):
            raise TypeError("key_builder must be callable: key_builder(request) -> str")
        early = validate_dependencies(dependencies)
        vary = validate_header_names("vary_headers", vary_headers)
        params: CacheParamsBase = {}
        if (ns := validate_namespace(namespace)) is not None:
            params["namespace"] = ns
        if (seconds := validate_ttl(ttl)) is not None:
            params["ttl"] = seconds
        config = RouteCacheConfig(
            cache=self,
            key_builder=key_builder,
            early_dependencies=early,
            vary_headers=vary,
            params=params,
            shared=validate_flag("shared", shared),
            ignore_response_cache_control=validate_flag(
                "ignore_response_cache_control", ignore_response_cache_control
            ),
            store_set_cookie=validate_flag("store_set_cookie", store_set_cookie),
            client_max_age=validate_max_age("client_max_age", client_max_age),
            set_last_modified=validate_flag("set_last_modified", set_last_modified),
            honor_request_cache_control=validate_flag(
                "honor_request_cache_control", honor_request_cache_control
            ),
            cached_methods=validate_methods(
                None if cached_methods is None else tuple(cached_methods)
            ),
            stale_while_revalidate=_optional_seconds(
                "stale_while_revalidate", stale_while_revalidate
            ),
            stale_if_error=_optional_seconds("stale_if_error", stale_if_error),
            tags=validate_tags(tags),
            edge=validate_flag("edge", edge),
            compress=None if compress is None else validate_flag("compress", compress),
        )
        self.namespaces.add(self.prepare_cache_params(params).get("namespace"))

        def decorator(endpoint: Callable[_P, _T]) -> Callable[_P, _T]:
            try:
                setattr(endpoint, CACHE_CONFIG_ATTR, config)
            except (AttributeError, TypeError) as exc:
                raise TypeError(
                    f"@cache() cannot mark {endpoint!r}: it must decorate a function"
                ) from exc
            return endpoint

        return decorator

    async def get_cached(
        self, cache_key: str, namespace: str | None = None
    ) -> CachedResponse | None:
        """The stored response for a key (``namespace`` as prepared), or ``None``."""
        entry = await self.backend.get(cache_key, namespace)
        return None if entry is None else entry.to_cached_response()

    async def set_cached(
        self, cache_key: str, value: CachedResponse, caching_params: CacheParamsBase
    ) -> bool:
        """Store a response; ``caching_params`` as returned by :meth:`prepare_cache_params`."""
        entry = StoredResponse.from_cached_response(value)
        return await self.backend.set(
            cache_key,
            entry,
            namespace=caching_params.get("namespace"),
            ttl=caching_params.get("ttl"),
        )

    async def invalidate_cached(self, cache_key: str, namespace: str | None = None) -> int:
        """Delete a stored response; returns the number of deleted entries."""
        return await self.backend.delete(cache_key, namespace)

    async def clear(self, namespace: str | None = None) -> int:
        """Delete every entry of a (prepared) namespace; returns how many."""
        return await self.backend.clear(namespace)

    async def wait_for_refreshes(self, timeout: float = 10.0) -> bool:
        """Wait for the background refreshes still running (stale-while-revalidate),
        at most ``timeout`` seconds; returns whether they all ended. Await it
        when the app shuts down (a lifespan's exit) so none is cut short."""
        return await self.refreshes.wait(timeout)

    def edge(self, app: ASGIApp) -> ASGIApp:
        """Wrap ``app`` so that hits of routes marked ``@cache(edge=True)`` are
        answered before its middleware stack -- the fastest answer there is,
        for users who accept that their middleware does not see those hits.

        ```py
        app = FastAPI(middleware=[...])
        app.include_router(router)
        app = cache.edge(app)  # serve this object (uvicorn main:app)
        ```

        It skips, for those hits only: every middleware (CORS, authentication,
        sessions, GZip, TrustedHost, HTTPS redirects, your own), and the app's
        exception handlers. Routes with early dependencies or a custom key
        builder, requests a middleware rewrote, and apps with Host routes or
        custom route matching are never answered there.
        """
        return EdgeLane(app)

    async def invalidate_tags(self, *tags: str, soft: bool = False) -> int:
        """Invalidate every entry carrying one of ``tags``, in every namespace of
        this cache's routes and on every worker its backend reaches; returns
        how many entries were removed, or with ``soft=True`` marked stale (they
        are then served stale within their stale-while-revalidate window while
        one refresh runs, and revalidated or missed otherwise).

        ```py
        @cache(tags=["products"])
        @router.get("/products")
        def products() -> list[Product]: ...

        await cache.invalidate_tags("products")
        ```
        """
        for tag in tags:
            if not isinstance(tag, str) or not tag:
                raise TypeError(f"tags must be non-empty str, got {tag!r}")
        validate_flag("soft", soft)
        if not tags:
            return 0
        removed = 0
        for namespace in list(self.namespaces):
            removed += await self.backend.invalidate_tags(list(tags), namespace, soft=soft)
        self.counters["soft_tag_invalidations" if soft else "tag_invalidations"] += 1
        self.counters["tag_invalidated_entries"] += removed
        return removed

    async def invalidate_after_write(self, tags: Sequence[str]) -> None:
        """RFC 9111 section 4.4, called after an unsafe request succeeded; a
        backend failure is logged, never the request's."""
        try:
            removed = 0
            for namespace in list(self.namespaces):
                removed += await self.backend.invalidate_tags(list(tags), namespace, soft=False)
        except Exception:
            self.counters["invalidation_errors"] += 1
            self.log.warning("invalidation_errors", "invalidation after a write failed")
            return
        self.counters["unsafe_invalidations"] += 1
        self.counters["unsafe_invalidated_entries"] += removed

    def prepare_cache_params(self, cache_params: CacheParamsBase) -> CacheParamsBase:
        """Resolve a route's parameters for the backend (applies the namespace policy)."""
        prepared = cache_params.copy()
        namespace = prepared.get("namespace")
        root = self.backend.namespace
        if self._concat_namespace and root and namespace:
            prepared["namespace"] = f"{root}:{namespace}"
        return prepared

    def set_cache_header(self, headers: MutableHeaders | dict[str, str], *, hit: bool) -> None:
        """Set the cache-status header (``X-Cache: HIT``/``MISS`` by default)."""
        headers[self._cache_header] = self._cache_header_hit if hit else self._cache_header_miss

    def stats(self) -> dict[str, Any]:
        """Counters: the backend's (hits, misses, evictions, bytes, entries, ...)
        and, under ``"route"``, why requests bypassed the cache or responses
        were not stored."""
        return {**self.backend.stats(), "route": dict(self.counters)}


def _resolve_backend(cache: object) -> CacheBackend:
    if cache is None:
        return MemoryBackend()
    if isinstance(cache, CacheBackend):
        return cache
    if is_aiocache_cache(cache):
        return AiocacheBackend(cache)
    raise TypeError(
        "cache must be None, a fastapi_caching_route backend or an aiocache cache instance, "
        f"not {type(cache).__name__}"
    )


def _seconds(name: str, value: object, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(
            f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
            f"number of seconds, got {value!r}"
        )
    return float(value)


def _optional_seconds(name: str, value: object) -> float | None:
    return None if value is None else _seconds(name, value, allow_zero=True)


def _is_field_value(value: str) -> bool:
    # RFC 9110 section 5.5: visible characters, spaces and tabs, within Latin-1.
    return all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in value)


def _validate_status_codes(codes: object) -> frozenset[int]:
    if isinstance(codes, (str, bytes, int)) or not isinstance(codes, Iterable):
        raise TypeError("accepted_status_codes must be an iterable of status codes")
    result = frozenset(codes)
    for code in result:
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise ValueError(f"accepted_status_codes contains an invalid status code: {code!r}")
    if 206 in result:
        # A 206 holds part of a resource: replayed, it would answer every later
        # request -- Range or not -- with that part.
        raise ValueError(
            "accepted_status_codes must not contain 206: a partial response is never stored"
        )
    return result
