"""The request flow of one cached route, as named states (RFC 9111 section 4):

recv -> key -> lookup -> fresh hit | revalidate | miss | pass -> deliver

The engine makes every decision (keys, credentials, reuse, storage); this
module only switches on them and talks to the endpoint and the backend.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_parameterless_sub_dependant
from starlette.types import Receive, Scope

from . import _compression as compression
from . import _core
from . import _fastlane as fastlane
from . import _storing as storing
from ._config import RouteCacheConfig
from ._early import EARLY_RESPONSE_KEY, EarlyDependencies, merge_early_response
from ._edge import SEEN_KEY
from ._entry import StoredResponse
from ._fastlane import EARLY_PASSED_KEY, LOOKED_KEY, MISSED_KEY
from ._flight import SingleFlight, wait_for_leader
from ._keys import RouteInputs, identity_credentials, route_inputs, security_guards
from ._responses import ReplayResponse
from ._revalidation import conditions_for, server_error, set_request_headers, validates
from ._storing import STATUS_KEY
from ._types import RouteHandler

# Request headers the flow reads, found in one pass over the scope's list.
_WANTED = frozenset(
    {
        b"authorization",
        b"if-none-match",
        b"if-modified-since",
        b"if-range",
        b"cache-control",
        b"pragma",
        b"range",
    }
)


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class CachePlan:
    """Everything a cached route needs per request, resolved once."""

    __slots__ = (
        "backend",
        "cache",
        "compress",
        "config",
        "credentials",
        "early",
        "flight",
        "get_takes_headers",
        "hit_path",
        "key_headers",
        "key_spec",
        "lane",
        "lane_awaits",
        "namespace",
        "original",
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
        # The route's handler, known at its first request (background refreshes use it).
        self.original: RouteHandler | None = None
        # Early dependencies run before the lookup: the decorator's, and the
        # security-scheme guards of the route's own dependencies=[...] (a hit
        # must not skip a guard).
        early = [
            get_parameterless_sub_dependant(depends=d, path=path) for d in config.early_dependencies
        ]
        early.extend(security_guards(dependant))
        self.early = EarlyDependencies(early, overrides) if early else None

        inputs = route_inputs(dependant)
        self.compress = self.cache.compress if config.compress is None else config.compress
        self.key_spec = inputs.key_spec(
            config.vary_headers, by_coding=self.compress, br=compression.BROTLI
        )
        # Fields already in the primary key need no secondary comparison.
        self.key_headers: list[str] = list(self.key_spec.vary_headers)
        if self.compress:
            self.key_headers.append("accept-encoding")  # the key's coding suffix holds it
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
                cache_status=self.cache.cache_status_name,
                stale_header=self.cache.stale_header,
            )
        # Whether the fast lane must await: early dependencies run first, or
        # the backend is asked with await (Redis, an L1 miss of a tiered store).
        self.lane_awaits = (
            self.early is not None
            or self.hit_path is None
            or bool(self.backend.lookup_after_native_miss)
        )

    async def handle(self, request: Request, original: RouteHandler) -> Response:
        self.original = original
        scope = request.scope
        missed = scope.pop(MISSED_KEY, None)
        headers = _request_headers(scope["headers"])
        # Early dependencies guard every request, cached or not.
        if self.early is not None and scope.pop(EARLY_PASSED_KEY, None) is not self:
            await self.early.run(request)  # raises their errors, validation included
        early_response = scope.pop(EARLY_RESPONSE_KEY, None)
        methods = self.config.cached_methods
        if methods and _method_of(scope) not in methods:
            scope[STATUS_KEY] = "fwd=method"
            response = await original(request)
        elif self._carries_credentials(scope, headers):
            scope[STATUS_KEY] = "fwd=bypass; detail=credentials"
            response = await original(request)
        else:
            response = await self._answer(request, original, missed, headers)
        if early_response is not None:
            merge_early_response(response, *early_response)
        status = scope.pop(STATUS_KEY, None)
        name = self.cache.cache_status_name
        if status is not None and name is not None:
            response.raw_headers.append((b"cache-status", name + b"; " + status.encode()))
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
        if self.lane is not False or self.config.edge:
            self._offer_to_lane(scope)

        head = scope["method"] == "HEAD"
        looked = scope.pop(LOOKED_KEY, None)
        if looked is not None and looked[0] is self:
            # The fast lane looked this key up already and found no fresh entry.
            _, key, stale, leaders_done = looked
            if head or self._request_directives(headers)[1]:
                return await original(request)
            return await self._fetch(request, original, key, stale, leaders_done)
        if missed is not None and missed[0] is self:
            key, nothing_stored = missed[1], True  # the fast lane found no entry for it
        else:
            nothing_stored = False
            try:
                key = await self._key(request, "GET" if head else None)
            except Exception:  # a key that cannot be built is a failed lookup
                self.failed("lookup_errors", "building the cache key failed; serving uncached")
                scope[STATUS_KEY] = "fwd=bypass; detail=key"
                return await original(request)
        if len(key) > self.cache.max_key_length:
            counters["bypass_key_too_long"] += 1
            scope[STATUS_KEY] = "fwd=bypass; detail=key-too-long"
            return await original(request)

        bypass, skip_store = self._request_directives(headers)
        stale: StoredResponse | None = None
        leaders_done = self.flight.finished
        if bypass:
            counters["bypass_request_no_cache"] += 1
            scope[STATUS_KEY] = "fwd=request"
        else:
            found = await self._find(key, scope, headers, head, nothing_stored)
            if isinstance(found, Response):
                return found  # a fresh hit
            stale = found

        if head or skip_store:
            return await original(request)  # a HEAD response has no body to store
        return await self._fetch(request, original, key, stale, leaders_done)

    def _carries_credentials(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        try:
            carried: bool = self.credentials.carried_by(scope)
        except Exception:  # unreadable headers: the cache stays out of it
            self.failed("lookup_errors", "reading the request failed; serving uncached")
            return True
        if carried:
            kind = "authorization" if b"authorization" in headers else "credentials"
            self.cache.counters[f"bypass_{kind}"] += 1
        return carried

    async def _find(
        self,
        key: str,
        scope: Scope,
        headers: dict[bytes, bytes],
        head: bool,
        nothing_stored: bool,
    ) -> Response | StoredResponse | None:
        """A fresh hit's response; or the stored entry to revalidate; or None."""
        if self.hit_path is not None:
            if not nothing_stored:
                found = self._native_hit(key, scope, headers, head)
                if isinstance(found, Response):
                    scope.pop(STATUS_KEY, None)  # a hit: its member is in the response
                    return found
                if found is not None:  # stored but not fresh: read it to revalidate
                    return self._judge(self._peek(key, scope), key, scope, headers, head)
            if not self.backend.lookup_after_native_miss:
                scope[STATUS_KEY] = "fwd=uri-miss"
                return None
        return self._judge(await self._lookup(key, scope["headers"]), key, scope, headers, head)

    def _judge(
        self,
        entry: StoredResponse | None,
        key: str,
        scope: Scope,
        headers: dict[bytes, bytes],
        head: bool,
    ) -> Response | StoredResponse | None:
        """The engine's reuse decision over an entry (RFC 9111 section 4)."""
        if entry is None:
            scope[STATUS_KEY] = "fwd=uri-miss"
            return None
        now = time.time()
        has_validator = bool(entry.etag) or entry.last_modified >= 0
        asks = self._request_freshness(headers)
        reuse, age, ttl_left = _core.decide_reuse(entry.timing, now, has_validator, *asks)
        if b"range" in headers and not _core.answers_range_request(entry.status_code):
            scope[STATUS_KEY] = "fwd=miss; detail=range"
            return None
        if reuse in ("fresh", "stale_while_revalidate"):
            # RFC 9211: the answer carries its own member (hit), and only that one,
            # also after a first lookup that missed (a coalesced follower).
            scope.pop(STATUS_KEY, None)
        if reuse == "fresh":
            return self._replay(entry, scope["method"], headers, head, age, ttl_left)
        if reuse == "stale_while_revalidate":
            self.refresh(scope, key)
            return self._replay(entry, scope["method"], headers, head, age, ttl_left, stale=True)
        scope[STATUS_KEY] = "fwd=stale"
        if (
            asks != (None, None)
            and _core.decide_reuse(entry.timing, now, has_validator)[0] == "fresh"
        ):
            # RFC 9211 section 2.2: forwarded "because of request directives".
            scope[STATUS_KEY] = "fwd=request"
        if reuse == "miss" and not _core.serves_stale_on_error(entry.timing, now):
            return None
        return entry  # to revalidate (or to fall back on when the endpoint fails)

    async def _fetch(
        self,
        request: Request,
        original: RouteHandler,
        key: str,
        stale: StoredResponse | None,
        leaders_done: int,
    ) -> Response:
        """Ask the endpoint (once per key while coalescing) and store its answer."""
        if not self.cache.coalesce:
            return await self._ask(request, original, key, stale)
        scope = request.scope
        leader = self.flight.leader_of(key)
        if leader is None:
            with self.flight.lead(key):
                if self.flight.finished != leaders_done:
                    # A leader finished while this request looked: what it
                    # stored may be the answer.
                    found = await self._find(
                        key, scope, _request_headers(scope["headers"]), False, False
                    )
                    if isinstance(found, Response):
                        return found
                    stale = found
                return await self._ask(request, original, key, stale)
        counters = self.cache.counters
        counters["coalesced"] += 1
        if await wait_for_leader(leader, self.cache.coalesce_timeout):
            headers = _request_headers(scope["headers"])
            found = await self._find(key, scope, headers, False, False)
            if isinstance(found, Response):
                return found
            shared = self._from_leader(leader.result(), key, scope, headers)
            if shared is not None:
                return shared
            stale = found
        counters["coalesce_fell_through"] += 1
        return await self._ask(request, original, key, stale)

    def _from_leader(
        self, entry: StoredResponse | None, key: str, scope: Scope, headers: dict[bytes, bytes]
    ) -> Response | None:
        """The entry the leader stored, as the store would have answered it, when
        the store could not (an outage): only its own variant, only fresh."""
        if entry is None or not _variant_matches(entry, scope["headers"]):
            return None
        answer = self._judge(entry, key, scope, headers, False)
        if not isinstance(answer, Response):
            return None
        self.cache.counters["coalesced_from_leader"] += 1
        return answer

    async def _ask(
        self, request: Request, original: RouteHandler, key: str, stale: StoredResponse | None
    ) -> Response:
        if stale is not None:
            return await self._revalidate(request, original, key, stale)
        if not self.backend.lock:
            return await storing.store(self, await original(request), key, request)
        # One endpoint call across workers (RedisBackend(lock=True)): the
        # worker holding the key's lease runs it; the others wait for it.
        lock = await self.backend.acquire(key, self.namespace)
        if lock is None:
            scope = request.scope
            if await self.backend.wait_released(key, self.namespace, self.cache.coalesce_timeout):
                found = await self._find(
                    key, scope, _request_headers(scope["headers"]), False, False
                )
                if isinstance(found, Response):
                    return found
            self.cache.counters["lock_fell_through"] += 1
            return await storing.store(self, await original(request), key, request)
        try:
            return await storing.store(self, await original(request), key, request)
        finally:
            await lock.release()

    async def _revalidate(
        self, request: Request, original: RouteHandler, key: str, stale: StoredResponse
    ) -> Response:
        """RFC 9111 section 4.3: the endpoint is asked with the entry's validators
        (the client's own, when it sent some); a 304 freshens the entry (section
        4.3.4) and the client gets it, or its own 304."""
        scope = request.scope
        # RFC 9211 section 2.2: forwarded because the entry is stale, or because
        # the request's directives would not take it as it is (_judge says which).
        forwarded = "fwd=request" if scope.get(STATUS_KEY) == "fwd=request" else "fwd=stale"
        client_fields = scope["headers"]
        asked = _request_headers(client_fields)
        conditions = conditions_for(stale, asked)
        if conditions:
            set_request_headers(request, [*client_fields, *conditions])
        try:
            response = await original(request)
        except Exception as exc:
            if not server_error(exc) or not self._stale_on_error(stale):
                raise
            return self._stale_answer(stale, asked, scope, "stale_if_error_answers")
        finally:
            set_request_headers(request, client_fields)
        if response.status_code >= 500 and self._stale_on_error(stale):
            return self._stale_answer(stale, asked, scope, "stale_if_error_answers")
        if response.status_code != 304:
            scope[STATUS_KEY] = f"{forwarded}; fwd-status={response.status_code}"
            return await storing.store(self, response, key, request)
        if not validates(stale, response):
            if not conditions:
                return response  # the client's own conditional request, answered
            # A 304 for another representation cannot freshen this entry (section
            # 4.3.3), and this client asked for the whole response.
            scope[STATUS_KEY] = f"{forwarded}; fwd-status=304; detail=mismatch"
            return await storing.store(self, await original(request), key, request)
        entry = storing.refreshed(self, stale, response)
        await storing.put_entry(self, key, entry)
        _, age, ttl_left = _core.decide_reuse(entry.timing, time.time(), True)
        scope[STATUS_KEY] = f"{forwarded}; fwd-status=304"
        return self._replay(entry, scope["method"], asked, False, age, ttl_left, forwarded=True)

    def answer_early(self, scope: Scope) -> Answer | None:
        """The fast lane's question: (status, headers, body) straight from the
        cache, or None to let routing run (a miss is remembered so it is not
        repeated)."""
        assert self.hit_path is not None
        if self.config.edge and SEEN_KEY in scope:
            self._teach_edge(scope)
        try:
            found = self.hit_path.answer(scope, time.time())
        except Exception:  # the route's own lookup logs it and serves uncached
            return None
        if found is None:
            return None
        if isinstance(found, str):
            scope[MISSED_KEY] = (self, found)
            return None
        if len(found) == 4:  # a stale answer: refresh it in the background
            self.cache.counters["stale_answers"] += 1
            self.refresh(scope, found[3])
            return found[0], found[1], found[2]
        return found

    async def answer_in_lane(self, scope: Scope, receive: Receive) -> Answer | None:
        """:meth:`answer_early` for a lane that awaits: the route's early
        dependencies run first, as on the route (their errors, validation
        errors included, propagate to the app's exception handlers); then the
        native store answers, and an async backend (or a tiered store's second
        level) is asked as the route would ask it. Anything but a fresh or
        stale-while-revalidate hit goes on to routing, with what was found."""
        if self.early is not None:
            await self.early.run_before_routing(Request(scope, receive))
            scope[EARLY_PASSED_KEY] = self
        if self.hit_path is not None:
            # Only this plan's own miss, from this call, may lead to the awaited
            # lookup: a key left by another plan (the edge lane before a
            # middleware rewrote the path) is another route's, and a bypass
            # (credentials, a request directive) leaves no key at all.
            scope.pop(MISSED_KEY, None)
            hit = self.answer_early(scope)
            missed = scope.get(MISSED_KEY)
            if (
                hit is None
                and self.backend.lookup_after_native_miss
                and missed is not None
                and missed[0] is self
            ):
                hit = await self._answer_awaited(scope, missed[1], True)
        else:
            key = self._lane_key(scope)
            hit = None if key is None else await self._answer_awaited(scope, key, False)
        early_response = scope.get(EARLY_RESPONSE_KEY)
        if hit is None or early_response is None:
            return hit
        scope.pop(EARLY_RESPONSE_KEY)
        status, fields, body = hit
        extra, early_status = early_response
        fields.extend(extra)
        return (early_status or status), fields, body

    def _lane_key(self, scope: Scope) -> str | None:
        """The key of a request the route would look up, or None when the
        route must see it first (another method, credentials, a request
        directive, a key it cannot build): it counts and labels those."""
        methods = self.config.cached_methods
        if methods and _method_of(scope) not in methods:
            return None
        try:
            if self.credentials.carried_by(scope):
                return None
            key: str = self.key_spec.from_scope(scope, "GET" if scope["method"] == "HEAD" else None)
        except Exception:
            return None
        if len(key) > self.cache.max_key_length:
            return None
        if self._request_directives(_request_headers(scope["headers"]))[0]:
            return None
        return key

    async def _answer_awaited(self, scope: Scope, key: str, nothing_stored: bool) -> Answer | None:
        leaders_done = self.flight.finished
        headers = _request_headers(scope["headers"])
        found = await self._find(key, scope, headers, scope["method"] == "HEAD", nothing_stored)
        if isinstance(found, Response):
            return found.status_code, found.raw_headers, found.body  # type: ignore[return-value]
        scope.pop(MISSED_KEY, None)
        scope[LOOKED_KEY] = (self, key, found, leaders_done)
        return None

    def refresh(self, scope: Scope, key: str) -> None:
        """Start the background refresh of a stale entry (RFC 5861 section 3):
        one per key, detached from the request that found it."""
        counters = self.cache.counters
        original = self.original
        if original is None or self.cache.refreshes.running((id(self), key)):
            return

        async def revalidate(request: Request) -> Response:
            stale = await self._stale_entry(key, request.scope)
            if stale is None:  # gone meanwhile (invalidated): an ordinary miss
                return await storing.store(self, await original(request), key, request)
            return await self._revalidate(request, original, key, stale)

        def done(failure: BaseException | None) -> None:
            if failure is None:
                counters["refreshes_succeeded"] += 1
            else:
                counters["refreshes_failed"] += 1
                self.cache.log.warning(
                    "refresh_failed", f"background refresh failed: {failure!r}", exc_info=False
                )

        if self.cache.refreshes.start((id(self), key), scope, revalidate, done):
            counters["refreshes_started"] += 1
        else:
            counters["refreshes_skipped"] += 1

    async def _stale_entry(self, key: str, scope: Scope) -> StoredResponse | None:
        if self.hit_path is not None:
            entry = self._peek(key, scope)
            if entry is not None or not self.backend.lookup_after_native_miss:
                return entry
        return await self._lookup(key, scope["headers"])

    def _stale_on_error(self, entry: StoredResponse) -> bool:
        return bool(_core.serves_stale_on_error(entry.timing, time.time()))

    def _stale_answer(
        self, entry: StoredResponse, asked: dict[bytes, bytes], scope: Scope, counter: str
    ) -> Response:
        # RFC 5861 section 4: "the cache MAY use a stale response" when the
        # endpoint fails; RFC 9211: fwd=stale.
        self.cache.counters[counter] += 1
        scope[STATUS_KEY] = "fwd=stale; detail=error"
        _, age, ttl_left = _core.decide_reuse(entry.timing, time.time(), True)
        return self._replay(
            entry, scope["method"], asked, False, age, ttl_left, stale=True, forwarded=True
        )

    def _native_hit(
        self, key: str, scope: Scope, headers: dict[bytes, bytes], head: bool
    ) -> Response | str | None:
        assert self.hit_path is not None
        try:
            found = self.hit_path.lookup(
                key,
                scope["method"],
                _text(headers.get(b"if-none-match")),
                _text(headers.get(b"if-modified-since")),
                _text(headers.get(b"range")),
                _text(headers.get(b"if-range")),
                head,
                time.time(),
                scope["headers"],
                *self._request_freshness(headers),
            )
        except Exception:  # the cache failing must never fail the request
            self.failed("lookup_errors", "cache lookup failed; serving uncached")
            return None
        if found is None or isinstance(found, str):
            return found
        if len(found) == 4:  # a stale answer (stale-while-revalidate): refresh the entry
            self.cache.counters["stale_answers"] += 1
            self.refresh(scope, key)
            return ReplayResponse(*found[:3])
        return ReplayResponse(*found)

    def _peek(self, key: str, scope: Scope) -> StoredResponse | None:
        # The hit path counted this lookup already.
        peek = getattr(self.backend, "peek_nowait", None)
        try:
            if peek is not None:
                found: StoredResponse | None = peek(key, self.namespace, headers=scope["headers"])
                return found
            return self.backend.get_nowait(key, self.namespace, headers=scope["headers"])
        except Exception:
            self.failed("lookup_errors", "cache lookup failed; serving uncached")
            return None

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
        except Exception:  # the cache failing must never fail the request
            self.failed("lookup_errors", "cache lookup failed; serving uncached")
            return None
        # Whatever the backend, a variant answers only its own request.
        if entry is not None and not _variant_matches(entry, request_headers):
            return None
        return entry

    def _replay(
        self,
        entry: StoredResponse,
        method: str,
        headers: dict[bytes, bytes],
        head: bool,
        age: float,
        ttl_left: float,
        *,
        stale: bool = False,
        forwarded: bool = False,
    ) -> Response:
        # The engine decides, as on the native hit path: 304, 206/416, or the
        # stored response. A forwarded answer (the endpoint was asked) gets its
        # Cache-Status member from handle(), so the engine adds none.
        status, fields, body = _core.replay(
            entry.status_code,
            entry.raw_headers,
            entry.body,
            entry.etag,
            entry.last_modified,
            age,
            ttl_left,
            method,
            _text(headers.get(b"if-none-match")),
            _text(headers.get(b"if-modified-since")),
            _text(headers.get(b"range")),
            _text(headers.get(b"if-range")),
            head,
            time.time(),
            self.cache.stale_header if stale else self.cache.hit_header,
            None if forwarded else self.cache.cache_status_name,
            stale,
        )
        if stale:
            self.cache.counters["stale_answers"] += 1
        return ReplayResponse(status, fields, body)

    def _teach_edge(self, scope: Scope) -> None:
        # The edge lane (cache.edge(app)) answers this route's hits once it has
        # seen routing (or the fast lane) send it one of its paths.
        if self.hit_path is not None and self.early is None and self.config.key_builder is None:
            seen = scope.get(SEEN_KEY)
            if seen is not None:
                seen[0].learn(scope, self)

    def _offer_to_lane(self, scope: Scope) -> None:
        if self.config.edge:
            self._teach_edge(scope)
        if self.lane is None:
            eligible = self.cache.fast_lane and self.config.key_builder is None
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

    def _request_freshness(self, headers: dict[bytes, bytes]) -> tuple[str | None, str | None]:
        """The request's Cache-Control and Pragma, for the engine to weigh what
        it accepts (RFC 9111 section 5.2.1), when the route honours them."""
        if not self.config.honor_request_cache_control:
            return None, None
        return _text(headers.get(b"cache-control")), _text(headers.get(b"pragma"))

    def _request_directives(self, headers: dict[bytes, bytes]) -> tuple[bool, bool]:
        if not self.config.honor_request_cache_control:
            return False, False
        directives: tuple[bool, bool] = _core.request_directives(
            _text(headers.get(b"cache-control")), _text(headers.get(b"pragma"))
        )
        return directives

    def now(self) -> float:
        """Wall-clock seconds: stored_at, ages and freshness all read this clock."""
        return time.time()

    def failed(self, kind: str, message: str) -> None:
        self.cache.counters[kind] += 1
        self.cache.log.warning(kind, message)

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


def _bypass_credentials(
    config: RouteCacheConfig, dependant: Dependant, inputs: RouteInputs, key_headers: list[str]
) -> _core.CredentialSpec:
    """Credentials whose requests neither read nor fill the cache (SPEC section 5):
    Authorization, and those of security schemes whose value reaches the
    endpoint -- unless the route keys on them or says its responses are shared."""
    if config.shared or config.key_builder is not None:
        return _core.CredentialSpec()
    found = identity_credentials(dependant)
    headers: set[str] = set()
    if not inputs.all_headers:
        headers = ({"authorization"} | found.headers) - set(key_headers)
    cookies = set() if inputs.all_cookies else found.cookies - set(inputs.cookies)
    declared_query = {spec.alias for spec in inputs.query}
    query = set() if inputs.all_query else found.query - declared_query
    return _core.CredentialSpec(sorted(headers), sorted(cookies), sorted(query))


def _variant_matches(entry: StoredResponse, request_headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request's fields named by the entry's Vary are the ones it
    was stored for (RFC 9111 section 4.1)."""
    return not entry.vary or _core.secondary_key(entry.vary, request_headers) == entry.secondary


def _method_of(scope: Scope) -> str:
    method: str = scope["method"]
    return "GET" if method == "HEAD" else method


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
