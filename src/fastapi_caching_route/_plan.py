"""The request flow of one cached route: bypass rules, lookup, replay, store."""

from __future__ import annotations

import inspect
import time
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_parameterless_sub_dependant, solve_dependencies
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope

from . import _core
from . import _fastlane as fastlane
from ._config import RouteCacheConfig
from ._entry import StoredResponse, without_age
from ._fastlane import EARLY_PASSED_KEY, MISSED_KEY
from ._flight import SingleFlight, wait_for_leader
from ._keys import declared_query_params
from ._responses import ReplayResponse, capture_stream
from ._types import RouteHandler

# Request headers the flow reads, found in one pass over the scope's list.
_WANTED = frozenset(
    {b"authorization", b"if-none-match", b"if-modified-since", b"cache-control", b"pragma"}
)


class CachePlan:
    """Everything a cached route needs per request, resolved once."""

    __slots__ = (
        "backend",
        "cache",
        "config",
        "early",
        "flight",
        "hit_path",
        "key_spec",
        "lane",
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
        self.lane: bool | None = (
            None  # whether the fast lane serves this route; None: not known yet
        )
        self.flight = SingleFlight()
        # The native store answers hits in one engine call (MemoryBackend.hit_path).
        self.hit_path: _core.HitPath | None = None
        make_hit_path = getattr(self.backend, "hit_path", None)
        if make_hit_path is not None:
            self.hit_path = make_hit_path(
                self.namespace,
                self.key_spec,
                self.cache.hit_header,
                allow_authorization=config.allows_authorization,
                honor_request_cache_control=config.honor_request_cache_control,
                max_key_length=self.cache.max_key_length,
            )

    async def handle(self, request: Request, original: RouteHandler) -> Response:
        scope = request.scope
        missed = scope.pop(MISSED_KEY, None)
        headers = _request_headers(scope["headers"])
        counters = self.cache.counters
        if b"authorization" in headers and not self.config.allows_authorization:
            counters["bypass_authorization"] += 1
            return await original(request)
        if (
            self.early is not None
            and scope.pop(EARLY_PASSED_KEY, None) is not self
            and not await self._early_dependencies_pass(request)
        ):
            return await original(request)  # validation errors: the handler reports them
        if self.lane is not False:
            self._offer_to_lane(scope)

        head = scope["method"] == "HEAD"
        if missed is not None and missed[0] is self:
            key, native_done = missed[1], True  # the fast lane already missed on this key
        else:
            key, native_done = await self._key(request, "GET" if head else None), False
        if len(key) > self.cache.max_key_length:
            counters["bypass_key_too_long"] += 1
            return await original(request)

        bypass, skip_store = self._request_directives(headers)
        if bypass:
            counters["bypass_request_no_cache"] += 1
        else:
            if self.hit_path is not None and not native_done:
                hit = self._native_hit(key, scope["method"], headers, head)
                if hit is not None:
                    return hit
            if self.hit_path is None or self.backend.lookup_after_native_miss:
                entry = await self._lookup(key)
                if entry is not None and not entry.revalidate:
                    return self._replay(entry, scope["method"], headers, head)

        if head or skip_store:
            return await original(request)  # a HEAD response has no body to store
        if not self.cache.coalesce:
            return await self._store(await original(request), key)
        leader = self.flight.leader_of(key)
        if leader is None:
            with self.flight.lead(key):
                return await self._store(await original(request), key)
        counters["coalesced"] += 1
        if await wait_for_leader(leader, self.cache.coalesce_timeout):
            hit = await self._hit_after_leader(key, scope["method"], headers)
            if hit is not None:
                return hit
        counters["coalesce_fell_through"] += 1
        return await self._store(await original(request), key)

    async def _hit_after_leader(
        self, key: str, method: str, headers: dict[bytes, bytes]
    ) -> Response | None:
        if self.hit_path is not None:
            return self._native_hit(key, method, headers, False)
        entry = await self._lookup(key)
        if entry is None or entry.revalidate:
            return None
        return self._replay(entry, method, headers, False)

    def answer_early(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """The fast lane's question: (status, headers, body) straight from the
        cache, or None to let routing run (a miss is remembered so it is not
        repeated)."""
        assert self.hit_path is not None
        try:
            found = self.hit_path.answer(scope, time.time())
        except Exception:  # the route's own lookup logs it and serves uncached
            return None
        if found is None:
            return None
        if isinstance(found, str):
            scope[MISSED_KEY] = (self, found)
            return None
        return found

    async def answer_early_after_dependencies(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """:meth:`answer_early` for a route with early dependencies: they run
        first, as on the route (their HTTP errors propagate to the app's
        exception handlers; validation errors leave the request to the route)."""
        request = Request(scope, receive)
        # FastAPI's request_response provides these stacks to dependencies with yield.
        async with AsyncExitStack() as request_stack:
            scope["fastapi_inner_astack"] = request_stack
            async with AsyncExitStack() as function_stack:
                scope["fastapi_function_astack"] = function_stack
                passed = await self._solve_early(request, function_stack)
        if not passed:
            return None
        scope[EARLY_PASSED_KEY] = self
        return self.answer_early(scope)

    def _native_hit(
        self, key: str, method: str, headers: dict[bytes, bytes], head: bool
    ) -> Response | None:
        assert self.hit_path is not None
        try:
            found = self.hit_path.lookup(
                key,
                method,
                _text(headers.get(b"if-none-match")),
                _text(headers.get(b"if-modified-since")),
                head,
                time.time(),
            )
        except Exception:  # the cache failing must never fail the request
            self._failed("lookup_errors", "cache lookup failed; serving uncached")
            return None
        return None if found is None else ReplayResponse(*found)

    def _offer_to_lane(self, scope: Scope) -> None:
        if self.lane is None:
            eligible = (
                self.cache.fast_lane
                and self.config.key_builder is None
                and self.hit_path is not None
            )
            self.lane = eligible and fastlane.install(scope)
        if self.lane:
            scope[fastlane.LEARN_KEY] = (
                self,
                {
                    "route": scope.get("route"),
                    "endpoint": scope.get("endpoint"),
                    "path_params": dict(scope.get("path_params", {})),
                },
            )

    def _request_directives(self, headers: dict[bytes, bytes]) -> tuple[bool, bool]:
        if not self.config.honor_request_cache_control:
            return False, False
        directives: tuple[bool, bool] = _core.request_directives(
            _text(headers.get(b"cache-control")), _text(headers.get(b"pragma"))
        )
        return directives

    def _failed(self, kind: str, message: str) -> None:
        self.cache.counters[kind] += 1
        self.cache.log.warning(kind, message)

    async def _early_dependencies_pass(self, request: Request) -> bool:
        async with AsyncExitStack() as stack:
            return await self._solve_early(request, stack)

    async def _solve_early(self, request: Request, stack: AsyncExitStack) -> bool:
        assert self.early is not None
        solved = await solve_dependencies(
            request=request,
            dependant=self.early,
            async_exit_stack=stack,
            embed_body_fields=False,
            dependency_overrides_provider=self.overrides,
        )
        return not solved.errors

    async def _key(self, request: Request, method: str | None) -> str:
        builder = self.config.key_builder
        if builder is None:
            key: str = self.key_spec.from_scope(request.scope, method)
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
            self._failed("lookup_errors", "cache lookup failed; serving uncached")
            return None

    def _replay(
        self, entry: StoredResponse, method: str, headers: dict[bytes, bytes], head: bool
    ) -> Response:
        # The engine decides, as on the native hit path: 304 or the stored response.
        if_none_match = headers.get(b"if-none-match")
        if_modified_since = headers.get(b"if-modified-since")
        conditional = if_none_match is not None or if_modified_since is not None
        status, fields, body = _core.replay(
            entry.status_code,
            entry.raw_headers,
            entry.body,
            entry.etag if conditional else "",
            entry.last_modified,
            entry.stored_at,
            method,
            _text(if_none_match),
            _text(if_modified_since),
            head,
            time.time(),
            self.cache.hit_header,
        )
        return ReplayResponse(status, fields, body)

    async def _store(self, response: Response, key: str) -> Response:
        cache, config = self.cache, self.config
        counters = cache.counters
        if response.status_code not in cache.accepted_status_codes:
            return response
        headers = response.headers
        vary = headers.get("vary", "")
        if config.vary_headers:
            merged = _core.merge_vary(vary, list(config.vary_headers))
            if merged != vary:
                headers["vary"] = vary = merged
        if vary and _core.parse_vary(vary)[0]:
            counters["not_stored_vary_star"] += 1
            return response  # Vary: * -- every request may differ

        verdict, ttl, revalidate, _, _ = _core.decide_storage(
            ", ".join(headers.getlist("cache-control")),
            "set-cookie" in headers,
            self.ttl or 0.0,
            config.ignore_response_cache_control,
            config.store_set_cookie,
        )
        if verdict != "store":
            counters[f"not_stored_{verdict}"] += 1
            return response

        body = await self._body(response)
        if body is None:
            counters["not_stored_body_too_large"] += 1
            return response
        now = time.time()
        self._add_validators(response, body, now, ttl)
        extra: tuple[tuple[bytes, bytes], ...] = ()
        if "content-length" not in headers:
            # A captured stream is replayed in one piece, so hits can say its length.
            extra = ((b"content-length", b"%d" % len(body)),)
        last_modified = _core.parse_http_date(headers.get("last-modified", ""), int(now))
        entry = StoredResponse(
            response.status_code,
            without_age((*response.raw_headers, *extra)),
            body,
            response.media_type,
            stored_at=now,
            last_modified=-1 if last_modified is None else last_modified,
            lifetime=ttl,
            revalidate=revalidate,
        )
        try:
            stored = await self.backend.set(key, entry, namespace=self.namespace, ttl=ttl or None)
        except Exception:
            self._failed("store_errors", "cache store failed; response served uncached")
            stored = False
        if stored:
            cache.set_cache_header(headers, hit=False)
        else:
            counters["not_stored_backend_refused"] += 1
        return response

    async def _body(self, response: Response) -> bytes | None:
        limit = self.cache.max_body_bytes
        if isinstance(response, StreamingResponse):
            return await capture_stream(response, limit)
        body = getattr(response, "body", None)  # FileResponse and the like have none
        if not isinstance(body, bytes) or len(body) > limit:
            return None
        return body

    def _add_validators(self, response: Response, body: bytes, now: float, ttl: float) -> None:
        headers = response.headers
        if "etag" not in headers:
            headers["etag"] = _core.etag_for_body(body)
        if self.config.set_last_modified and "last-modified" not in headers:
            headers["last-modified"] = _core.format_http_date(int(now))
        client_max_age = self.config.client_max_age
        if client_max_age is not None and not _forbids_reuse(headers.get("cache-control", "")):
            # With Age on hits, downstream caches subtract elapsed time themselves;
            # max-age must never promise more than the entry's own lifetime.
            max_age = client_max_age if ttl <= 0 else min(client_max_age, int(ttl))
            headers["cache-control"] = f"max-age={max_age}"


def _forbids_reuse(cache_control: str) -> bool:
    # A response stored only because the route ignores its Cache-Control must
    # not be advertised as cacheable to clients and CDNs.
    if not cache_control:
        return False
    directives = _core.parse_cache_control(cache_control)
    return bool(directives.private or directives.no_store or directives.no_cache)


def _request_headers(raw: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in raw:
        if name in _WANTED:
            # Repeated fields are one comma-separated list (RFC 9110 section 5.3).
            found[name] = found[name] + b", " + value if name in found else value
    return found


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
