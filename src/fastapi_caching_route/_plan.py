"""The request flow of one cached route: bypass rules, lookup, replay, store."""

from __future__ import annotations

import inspect
import time
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_parameterless_sub_dependant, solve_dependencies
from fastapi.exceptions import RequestValidationError
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope

from . import _core
from . import _fastlane as fastlane
from ._config import RouteCacheConfig
from ._entry import RawHeaders, StoredResponse, without_age
from ._fastlane import EARLY_PASSED_KEY, MISSED_KEY
from ._flight import SingleFlight, wait_for_leader
from ._keys import identity_credentials, route_inputs, security_guards
from ._responses import ReplayResponse, store_when_complete
from ._types import RouteHandler

# Request headers the flow reads, found in one pass over the scope's list.
_WANTED = frozenset(
    {
        b"authorization",
        b"if-none-match",
        b"if-modified-since",
        b"cache-control",
        b"pragma",
        b"range",
    }
)

# What the early dependencies set on their injected Response for this
# request: (header fields, status code or None). Sent with the answer, never
# stored.
EARLY_RESPONSE_KEY = "fastapi_caching_route.early_response"

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class CachePlan:
    """Everything a cached route needs per request, resolved once."""

    __slots__ = (
        "backend",
        "cache",
        "config",
        "credentials",
        "early",
        "flight",
        "get_takes_headers",
        "hit_path",
        "key_headers",
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
        lookup = self.backend.get_nowait if self.synchronous else self.backend.get
        self.get_takes_headers = "headers" in inspect.signature(lookup).parameters
        params = self.cache.prepare_cache_params(config.params)
        self.namespace = params.get("namespace")
        self.ttl = params.get("ttl")
        self.overrides = overrides
        # Early dependencies run before the lookup: the decorator's, and the
        # security-scheme guards of the route's own dependencies=[...] (a hit
        # must not skip a guard).
        early = [
            get_parameterless_sub_dependant(depends=d, path=path) for d in config.early_dependencies
        ]
        early.extend(security_guards(dependant))
        self.early: Dependant | None = Dependant(dependencies=early) if early else None

        inputs = route_inputs(dependant)
        self.key_spec = inputs.key_spec(config.vary_headers)
        # Fields already in the primary key need no secondary comparison.
        self.key_headers: list[str] = list(self.key_spec.vary_headers)
        self.credentials = _bypass_credentials(config, dependant, inputs, self.key_headers)
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
                credentials=self.credentials,
                honor_request_cache_control=config.honor_request_cache_control,
                max_key_length=self.cache.max_key_length,
            )

    async def handle(self, request: Request, original: RouteHandler) -> Response:
        scope = request.scope
        missed = scope.pop(MISSED_KEY, None)
        headers = _request_headers(scope["headers"])
        # Early dependencies guard every request, cached or not.
        if self.early is not None and scope.pop(EARLY_PASSED_KEY, None) is not self:
            await self._run_early(request)  # raises their errors, validation included
        early_response = scope.pop(EARLY_RESPONSE_KEY, None)
        if self._carries_credentials(scope, headers):
            response = await original(request)
        else:
            response = await self._answer(request, original, missed, headers)
        if early_response is not None:
            _merge_early_response(response, *early_response)
        return response

    async def _answer(
        self,
        request: Request,
        original: RouteHandler,
        missed: Any,
        headers: dict[bytes, bytes],
    ) -> Response:
        scope = request.scope
        counters = self.cache.counters
        if self.lane is not False:
            self._offer_to_lane(scope)

        head = scope["method"] == "HEAD"
        if missed is not None and missed[0] is self:
            key, native_done = missed[1], True  # the fast lane already missed on this key
        else:
            native_done = False
            try:
                key = await self._key(request, "GET" if head else None)
            except Exception:  # a key that cannot be built is a failed lookup
                self._failed("lookup_errors", "building the cache key failed; serving uncached")
                return await original(request)
        if len(key) > self.cache.max_key_length:
            counters["bypass_key_too_long"] += 1
            return await original(request)

        bypass, skip_store = self._request_directives(headers)
        if bypass:
            counters["bypass_request_no_cache"] += 1
        else:
            if self.hit_path is not None and not native_done:
                hit = self._native_hit(key, scope, headers, head)
                if hit is not None:
                    return hit
            if self.hit_path is None or self.backend.lookup_after_native_miss:
                hit = await self._backend_hit(key, scope, headers, head)
                if hit is not None:
                    return hit

        if head or skip_store:
            return await original(request)  # a HEAD response has no body to store
        if not self.cache.coalesce:
            return await self._store(await original(request), key, request)
        leader = self.flight.leader_of(key)
        if leader is None:
            with self.flight.lead(key):
                return await self._store(await original(request), key, request)
        counters["coalesced"] += 1
        if await wait_for_leader(leader, self.cache.coalesce_timeout):
            hit = await self._hit_after_leader(key, scope, headers)
            if hit is not None:
                return hit
        counters["coalesce_fell_through"] += 1
        return await self._store(await original(request), key, request)

    def _carries_credentials(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        try:
            carried: bool = self.credentials.carried_by(scope)
        except Exception:  # unreadable headers: the cache stays out of it
            self._failed("lookup_errors", "reading the request failed; serving uncached")
            return True
        if carried:
            kind = "authorization" if b"authorization" in headers else "credentials"
            self.cache.counters[f"bypass_{kind}"] += 1
        return carried

    async def _hit_after_leader(
        self, key: str, scope: Scope, headers: dict[bytes, bytes]
    ) -> Response | None:
        if self.hit_path is not None:
            hit = self._native_hit(key, scope, headers, False)
            if hit is not None or not self.backend.lookup_after_native_miss:
                return hit
        return await self._backend_hit(key, scope, headers, False)

    def answer_early(self, scope: Scope) -> Answer | None:
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
    ) -> Answer | None:
        """:meth:`answer_early` for a route with early dependencies: they run
        first, as on the route (their errors, validation errors included,
        propagate to the app's exception handlers)."""
        request = Request(scope, receive)
        # FastAPI's request_response provides these stacks to dependencies with yield.
        async with AsyncExitStack() as request_stack:
            scope["fastapi_inner_astack"] = request_stack
            async with AsyncExitStack() as function_stack:
                scope["fastapi_function_astack"] = function_stack
                await self._solve_early(request, function_stack)
        scope[EARLY_PASSED_KEY] = self
        hit = self.answer_early(scope)
        early_response = scope.get(EARLY_RESPONSE_KEY)
        if hit is None or early_response is None:
            return hit
        scope.pop(EARLY_RESPONSE_KEY)
        status, fields, body = hit
        extra, early_status = early_response
        fields.extend(extra)
        return (early_status or status), fields, body

    def _native_hit(
        self, key: str, scope: Scope, headers: dict[bytes, bytes], head: bool
    ) -> Response | None:
        assert self.hit_path is not None
        try:
            found = self.hit_path.lookup(
                key,
                scope["method"],
                _text(headers.get(b"if-none-match")),
                _text(headers.get(b"if-modified-since")),
                head,
                time.time(),
                scope["headers"],
                b"range" in headers,
            )
        except Exception:  # the cache failing must never fail the request
            self._failed("lookup_errors", "cache lookup failed; serving uncached")
            return None
        return None if found is None else ReplayResponse(*found)

    async def _backend_hit(
        self, key: str, scope: Scope, headers: dict[bytes, bytes], head: bool
    ) -> Response | None:
        entry = await self._lookup(key, scope["headers"])
        if entry is None or entry.revalidate:
            return None
        if b"range" in headers and not _core.answers_range_request(entry.status_code):
            return None
        return self._replay(entry, scope["method"], headers, head)

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

    async def _run_early(self, request: Request) -> None:
        async with AsyncExitStack() as stack:
            await self._solve_early(request, stack)

    async def _solve_early(self, request: Request, stack: AsyncExitStack) -> None:
        assert self.early is not None
        solved = await solve_dependencies(
            request=request,
            dependant=self.early,
            async_exit_stack=stack,
            embed_body_fields=False,
            dependency_overrides_provider=self.overrides,
        )
        if solved.errors:
            # As FastAPI answers for a dependency on the route: the guard's
            # input is missing or invalid, so the endpoint must not run.
            raise RequestValidationError(solved.errors)
        sub_response = solved.response
        extra = list(sub_response.raw_headers)
        if extra or sub_response.status_code:
            request.scope[EARLY_RESPONSE_KEY] = (extra, sub_response.status_code)

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

    async def _lookup(
        self, key: str, request_headers: list[tuple[bytes, bytes]]
    ) -> StoredResponse | None:
        try:
            entry: StoredResponse | None
            if not self.get_takes_headers:  # a backend of one's own, one response per key
                if self.synchronous:
                    entry = self.backend.get_nowait(key, self.namespace)
                else:
                    entry = await self.backend.get(key, self.namespace)
            elif self.synchronous:
                entry = self.backend.get_nowait(key, self.namespace, headers=request_headers)
            else:
                entry = await self.backend.get(key, self.namespace, headers=request_headers)
            if entry is None:
                return None
            # Whatever the backend: a variant answers only its own request, and
            # an entry only within its lifetime (variants may share one value).
            if entry.vary and _core.secondary_key(entry.vary, request_headers) != entry.secondary:
                return None
            if entry.lifetime > 0 and time.time() >= entry.stored_at + entry.lifetime:
                return None
            return entry
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

    async def _store(self, response: Response, key: str, request: Request) -> Response:
        cache, config = self.cache, self.config
        counters = cache.counters
        if response.status_code not in cache.accepted_status_codes:
            return response
        headers = response.headers
        vary_lines = headers.getlist("vary")
        if config.vary_headers:
            merged = _core.merge_vary(", ".join(vary_lines), list(config.vary_headers))
            if merged != ", ".join(vary_lines):
                headers["vary"] = merged  # replaces every line
                vary_lines = [merged]
        star, vary_names = _core.secondary_names(vary_lines, self.key_headers)
        if star:
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

        now = time.time()
        secondary = _core.secondary_key(vary_names, request.scope["headers"]) if vary_names else ""
        variant = (tuple(vary_names), secondary)
        if isinstance(response, StreamingResponse):
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cache.max_body_bytes:
                counters["not_stored_body_too_large"] += 1
                return response
            # Sent as it is produced; stored once the whole stream reached the client.
            self._add_validators(response, None, now, ttl)
            fields = without_age(tuple(response.raw_headers))
            cache.set_cache_header(headers, hit=False)

            async def store_stream(body: bytes) -> None:
                # What the stream could not say up front: its ETag and length.
                complete = tuple(f for f in fields if f[0] != b"content-length")
                if not any(name == b"etag" for name, _ in complete):
                    complete += ((b"etag", _core.etag_for_body(body).encode("latin-1")),)
                complete += ((b"content-length", b"%d" % len(body)),)
                await self._put(key, response, complete, body, now, ttl, revalidate, variant)

            def too_large() -> None:
                counters["not_stored_body_too_large"] += 1

            store_when_complete(response, request, cache.max_body_bytes, store_stream, too_large)
            return response

        body = _plain_body(response, cache.max_body_bytes)
        if body is None:
            counters["not_stored_body_too_large"] += 1
            return response
        self._add_validators(response, body, now, ttl)
        extra: RawHeaders = ()
        if "content-length" not in headers:
            extra = ((b"content-length", b"%d" % len(body)),)
        fields = without_age((*response.raw_headers, *extra))
        if await self._put(key, response, fields, body, now, ttl, revalidate, variant):
            cache.set_cache_header(headers, hit=False)
        return response

    async def _put(
        self,
        key: str,
        response: Response,
        fields: RawHeaders,
        body: bytes,
        now: float,
        ttl: float,
        revalidate: bool,
        variant: tuple[tuple[str, ...], str],
    ) -> bool:
        last_modified = _core.parse_http_date(response.headers.get("last-modified", ""), int(now))
        entry = StoredResponse(
            response.status_code,
            fields,
            body,
            response.media_type,
            stored_at=now,
            last_modified=-1 if last_modified is None else last_modified,
            lifetime=ttl,
            revalidate=revalidate,
            vary=variant[0],
            secondary=variant[1],
        )
        try:
            stored = await self.backend.set(key, entry, namespace=self.namespace, ttl=ttl or None)
        except Exception:
            self._failed("store_errors", "cache store failed; response served uncached")
            stored = False
        if not stored:
            self.cache.counters["not_stored_backend_refused"] += 1
        return bool(stored)

    def _add_validators(
        self, response: Response, body: bytes | None, now: float, ttl: float
    ) -> None:
        headers = response.headers
        if body is not None and "etag" not in headers:
            headers["etag"] = _core.etag_for_body(body)
        if self.config.set_last_modified and "last-modified" not in headers:
            headers["last-modified"] = _core.format_http_date(int(now))
        client_max_age = self.config.client_max_age
        if client_max_age is not None and not _forbids_reuse(headers.get("cache-control", "")):
            # With Age on hits, downstream caches subtract elapsed time themselves;
            # max-age must never promise more than the entry's own lifetime.
            max_age = client_max_age if ttl <= 0 else min(client_max_age, int(ttl))
            headers["cache-control"] = f"max-age={max_age}"


def _bypass_credentials(
    config: RouteCacheConfig, dependant: Dependant, inputs: Any, key_headers: list[str]
) -> _core.CredentialSpec:
    """Credentials whose requests neither read nor fill the cache (SPEC section 5):
    Authorization, and those of security schemes whose value reaches the
    endpoint -- unless the route keys on them or says its responses are shared."""
    if config.shared or config.key_builder is not None:
        return _core.CredentialSpec()
    found = identity_credentials(dependant)
    headers = set()
    if not inputs.all_headers:
        headers = ({"authorization"} | found.headers) - set(key_headers)
    cookies = set() if inputs.all_cookies else found.cookies - set(inputs.cookies)
    declared_query = {spec.alias for spec in inputs.query}
    query = set() if inputs.all_query else found.query - declared_query
    return _core.CredentialSpec(sorted(headers), sorted(cookies), sorted(query))


def _merge_early_response(
    response: Response, extra: list[tuple[bytes, bytes]], status: int | None
) -> None:
    # As FastAPI merges what route dependencies set on their injected Response.
    response.raw_headers.extend(extra)
    if status:
        response.status_code = status


def _plain_body(response: Response, limit: int) -> bytes | None:
    body = getattr(response, "body", None)  # FileResponse and the like have none
    if not isinstance(body, bytes) or len(body) > limit:
        return None
    return body


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
        lowered = name.lower()
        if lowered in _WANTED:
            # Repeated fields are one comma-separated list (RFC 9110 section 5.3).
            found[lowered] = found[lowered] + b", " + value if lowered in found else value
    return found


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
