"""From an endpoint's response to a stored entry: storability, freshness, fields.

The engine decides (RFC 9111 sections 3 and 4.2); this module gathers what it
decides on from the response and hands the entry to the backend.
"""

from __future__ import annotations

import inspect
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from starlette.datastructures import MutableHeaders
from starlette.responses import StreamingResponse

from . import _compression as compression
from . import _core
from ._entry import RawHeaders, StoredResponse, without_age
from ._invalidation import path_tag
from ._responses import store_when_complete

if TYPE_CHECKING:
    from ._plan import CachePlan

# Cache-Status parameters of this request's answer (RFC 9211), set by the flow.
STATUS_KEY = "fastapi_caching_route.cache_status"


def freshness_field(headers: MutableHeaders, cdn: bool) -> str:
    """The Cache-Control value the cache obeys: CDN-Cache-Control when that is on
    and the response has one (RFC 9213 section 2.1: "the cache ... MUST ignore
    ... Cache-Control"), else Cache-Control."""
    if cdn and "cdn-cache-control" in headers:
        return ", ".join(headers.getlist("cdn-cache-control"))
    return ", ".join(headers.getlist("cache-control"))


def timing_of(
    plan: CachePlan, headers: MutableHeaders, status: int, cache_control: str, now: float
) -> tuple[float, float, float, bool, bool, bool, bool, float, float]:
    cache, config = plan.cache, plan.config
    swr = _first(config.stale_while_revalidate, cache.stale_while_revalidate)
    sie = _first(config.stale_if_error, cache.stale_if_error)
    return _core.entry_timing(
        cache_control,
        _joined(headers, "expires"),
        _joined(headers, "date"),
        _joined(headers, "age"),
        _joined(headers, "last-modified"),
        status,
        now,
        plan.ttl or 0.0,
        config.ignore_response_cache_control,
        cache.shared_cache_freshness,
        cache.heuristic_freshness,
        cache.heuristic_max_age,
        swr,
        sie,
    )


async def store(plan: CachePlan, response: Response, key: str, request: Request) -> Response:
    """Store the endpoint's response when the rules allow; mark it MISS when stored."""
    cache, config = plan.cache, plan.config
    counters = cache.counters
    scope = request.scope
    if response.status_code not in cache.accepted_status_codes:
        scope[STATUS_KEY] = scope.get(STATUS_KEY, "fwd=uri-miss") + "; detail=status"
        return response
    headers = response.headers
    vary_lines = headers.getlist("vary")
    if config.vary_headers:
        merged = _core.merge_vary(", ".join(vary_lines), list(config.vary_headers))
        if merged != ", ".join(vary_lines):
            headers["vary"] = merged  # replaces every line
            vary_lines = [merged]
    star, vary_names = _core.secondary_names(vary_lines, plan.key_headers)
    if star:
        counters["not_stored_vary_star"] += 1
        return response  # Vary: * -- every request may differ

    cache_control = freshness_field(headers, cache.cdn_cache_control)
    verdict, _, _, _, _ = _core.decide_storage(
        cache_control,
        "set-cookie" in headers,
        plan.ttl or 0.0,
        config.ignore_response_cache_control,
        config.store_set_cookie,
        config.shared and _has_authorization(scope),
        config.shared,
    )
    # A response stale on arrival (max-age=0) is stored when it can be
    # revalidated or served stale (RFC 5861): worth_storing decides below.
    if verdict == "zero_lifetime":
        verdict = "store"
    if verdict != "store":
        counters[f"not_stored_{verdict}"] += 1
        return response
    now = plan.now()
    timing = timing_of(plan, headers, response.status_code, cache_control, now)
    # The endpoint's own validators, before ours are added.
    has_validator = "etag" in headers or "last-modified" in headers
    if not _core.worth_storing(timing, has_validator):
        counters["not_stored_zero_lifetime"] += 1
        return response
    if cache.strip_cdn_cache_control and "cdn-cache-control" in headers:
        del headers["cdn-cache-control"]
    try:
        route_tags = await route_tags_of(plan, request)
    except Exception:  # as a key that cannot be built: served, not stored
        plan.failed("tag_errors", "computing the route's tags failed; response not stored")
        return response
    if cache.tag_header is not None and route_tags:
        separator = ", " if cache.tag_header.lower() == "cache-tag" else " "
        headers[cache.tag_header] = separator.join(route_tags)
    # RFC 9111 section 4.4's invalidation finds the entries of a path by its
    # tag; without invalidation after writes an entry does not pay for one.
    if cache.invalidate_on_unsafe:
        tags = tuple(dict.fromkeys((path_tag(scope["path"]), *route_tags)))
    else:
        tags = route_tags

    secondary = _core.secondary_key(vary_names, scope["headers"]) if vary_names else ""
    variant = (tuple(vary_names), secondary)
    if isinstance(response, StreamingResponse):
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cache.max_body_bytes:
            counters["not_stored_body_too_large"] += 1
            return response
        # Sent as it is produced; stored once the whole stream reached the client.
        _add_validators(plan, response, None, now, timing)
        fields = _storable(response.raw_headers)
        cache.set_cache_header(headers, hit=False)
        scope[STATUS_KEY] = scope.get(STATUS_KEY, "fwd=uri-miss") + "; stored"

        async def store_stream(body: bytes) -> None:
            # What the stream could not say up front: its ETag and length.
            complete = tuple(f for f in fields if f[0] != b"content-length")
            if not any(name == b"etag" for name, _ in complete):
                complete += ((b"etag", _core.etag_for_body(body).encode("latin-1")),)
            complete += ((b"content-length", b"%d" % len(body)),)
            await put(plan, key, response, complete, body, timing, variant, tags)

        def too_large() -> None:
            counters["not_stored_body_too_large"] += 1

        store_when_complete(response, request, cache.max_body_bytes, store_stream, too_large)
        return response

    body = getattr(response, "body", None)  # FileResponse and the like have none
    if not isinstance(body, bytes) or len(body) > cache.max_body_bytes:
        counters["not_stored_body_too_large"] += 1
        return response
    _add_validators(plan, response, body, now, timing)
    coded = plan.compress and compression.compressible(
        headers.get("content-type"), headers.get("content-encoding"), len(body)
    )
    if coded:
        # The coding is part of the key: downstream caches must know it varies.
        headers["vary"] = _core.merge_vary(", ".join(headers.getlist("vary")), ["accept-encoding"])
    extra: RawHeaders = ()
    if "content-length" not in headers:
        extra = ((b"content-length", b"%d" % len(body)),)
    fields = _storable((*response.raw_headers, *extra))
    if coded:
        stored = await _put_codings(plan, key, response, fields, body, timing, variant, tags)
    else:
        stored = await put(plan, key, response, fields, body, timing, variant, tags)
    if stored:
        cache.set_cache_header(headers, hit=False)
        scope[STATUS_KEY] = scope.get(STATUS_KEY, "fwd=uri-miss") + "; stored"
    return response


async def _put_codings(
    plan: CachePlan,
    key: str,
    response: Response,
    fields: RawHeaders,
    body: bytes,
    timing: tuple[float, float, float, bool, bool, bool, bool, float, float],
    variant: tuple[tuple[str, ...], str],
    tags: tuple[str, ...],
) -> bool:
    """Store the body once per coding, and answer this client in its own."""
    base, wanted = compression.coding_of(key)
    etag = response.headers["etag"]
    stored = await put(plan, f"{base} enc=identity", response, fields, body, timing, variant, tags)
    for coding, coder in compression.CODERS.items():
        coded = coder(body)
        coded_fields = compression.coded_fields(fields, coding, len(coded), etag)
        stored = await put(plan, f"{base} enc={coding}", response, coded_fields, coded, timing,
                           variant, tags) and stored  # fmt: skip
        if coding == wanted:
            response.body = coded
            response.raw_headers[:] = coded_fields  # the miss goes out as its hits will
    return stored


async def put(
    plan: CachePlan,
    key: str,
    response: Response,
    fields: RawHeaders,
    body: bytes,
    timing: tuple[float, float, float, bool, bool, bool, bool, float, float],
    variant: tuple[tuple[str, ...], str],
    tags: tuple[str, ...] = (),
) -> bool:
    last_modified = _core.parse_http_date(response.headers.get("last-modified", ""), int(timing[0]))
    entry = StoredResponse.from_timing(
        response.status_code,
        fields,
        body,
        response.media_type,
        -1 if last_modified is None else last_modified,
        timing,
        vary=variant[0],
        secondary=variant[1],
        tags=tags,
    )
    return await put_entry(plan, key, entry)


async def put_entry(plan: CachePlan, key: str, entry: StoredResponse) -> bool:
    plan.flight.offer(key, entry)  # followers get it even if the store fails
    ttl = _core.store_ttl(entry.timing, plan.now(), plan.cache.keep_stale)
    try:
        stored = await plan.backend.set(key, entry, namespace=plan.namespace, ttl=ttl or None)
    except Exception:
        plan.failed("store_errors", "cache store failed; response served uncached")
        stored = False
    if not stored:
        plan.cache.counters["not_stored_backend_refused"] += 1
    return bool(stored)


def refreshed(
    plan: CachePlan,
    entry: StoredResponse,
    not_modified: Response,
) -> StoredResponse:
    """The stored entry freshened by a 304 (RFC 9111 section 4.3.4): its fields
    updated from the 304's, its freshness computed anew from them."""
    fields = _core.refreshed_fields(entry.raw_headers, tuple(not_modified.raw_headers))
    headers = MutableHeaders(raw=list(fields))
    now = plan.now()
    cache_control = freshness_field(headers, plan.cache.cdn_cache_control)
    timing = timing_of(plan, headers, entry.status_code, cache_control, now)
    last_modified = _core.parse_http_date(headers.get("last-modified", ""), int(now))
    return StoredResponse.from_timing(
        entry.status_code,
        _storable(fields),
        entry.body,
        entry.media_type,
        entry.last_modified if last_modified is None else last_modified,
        timing,
        vary=entry.vary,
        secondary=entry.secondary,
        tags=entry.tags,
    )


async def route_tags_of(plan: CachePlan, request: Request) -> tuple[str, ...]:
    """The route's tags for this request (``@cache(tags=...)``), each once."""
    route_tags = plan.config.tags
    if callable(route_tags):
        computed: Any = route_tags(request)
        if inspect.isawaitable(computed):
            computed = await computed
        if isinstance(computed, (str, bytes)):
            raise TypeError("a tags function must return an iterable of str, not one str")
        found = tuple(computed)
        for tag in found:
            if not isinstance(tag, str) or not tag:
                raise TypeError(f"tags must be non-empty str, got {tag!r}")
        route_tags = found
    return tuple(dict.fromkeys(route_tags))


def _add_validators(
    plan: CachePlan,
    response: Response,
    body: bytes | None,
    now: float,
    timing: tuple[float, float, float, bool, bool, bool, bool, float, float],
) -> None:
    headers = response.headers
    if body is not None and "etag" not in headers:
        headers["etag"] = _core.etag_for_body(body)
    if plan.config.set_last_modified and "last-modified" not in headers:
        headers["last-modified"] = _core.format_http_date(int(now))
    client_max_age = plan.config.client_max_age
    if client_max_age is not None and not _forbids_reuse(headers.get("cache-control", "")):
        # With Age on hits, downstream caches subtract elapsed time themselves;
        # max-age must never promise more than the entry's own lifetime.
        lifetime = timing[2]
        unbounded = timing[3]
        max_age = client_max_age if unbounded else min(client_max_age, int(lifetime))
        headers["cache-control"] = f"max-age={max_age}"


def _storable(fields: RawHeaders | list[tuple[bytes, bytes]]) -> RawHeaders:
    # Age is computed per hit; hop-by-hop and proxy-authentication fields are
    # never stored (RFC 9110 section 7.6.1, RFC 9111 section 3.1).
    return _core.storable_fields(without_age(tuple(fields)))


def _forbids_reuse(cache_control: str) -> bool:
    # A response stored only because the route ignores its Cache-Control must
    # not be advertised as cacheable to clients and CDNs.
    if not cache_control:
        return False
    directives = _core.parse_cache_control(cache_control)
    return bool(directives.private or directives.no_store or directives.no_cache)


def _first(route: float | None, cache: float | None) -> float:
    # -1: neither sets a window, so the response's own directive decides.
    if route is not None:
        return route
    return -1.0 if cache is None else cache


def _joined(headers: MutableHeaders, name: str) -> str | None:
    lines = headers.getlist(name)
    return ", ".join(lines) if lines else None


def _has_authorization(scope: MutableMapping[str, Any]) -> bool:
    return any(name.lower() == b"authorization" for name, _ in scope["headers"])
