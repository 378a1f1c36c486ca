"""Runs one task for one adapter in this interpreter and prints its result as JSON.

``python benchmarks/_worker.py bench_ours hitcost '{"rounds": 5, ...}'`` — the
runner starts it with the adapter's venv python. Stdlib only: the adapter
brings the framework. Its directory is ``sys.path[0]``, so the adapters import
``_payload`` and ``_asgi`` from here in every venv.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import importlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from time import perf_counter, perf_counter_ns
from typing import Any
from urllib.parse import urlsplit

import _asgi
import _payload

_GZIP = ((b"accept-encoding", b"gzip"),)
# variant -> (path, query, extra headers, route whose endpoint counts calls)
VARIANTS: dict[str, tuple[str, bytes, tuple[tuple[bytes, bytes], ...], str]] = {
    "plain": ("/plain", b"", (), "plain"),
    "edge": ("/plain", b"", (), "plain"),  # ours: answered by cache.edge(app)
    "304": ("/plain", b"", (), "plain"),  # If-None-Match added once the ETag is known
    "auth": ("/auth", b"", ((b"x-api-key", _payload.API_KEY.encode()),), "auth"),
    "query10": (
        "/query10",
        "&".join(f"{q}={i}" for i, q in enumerate(_payload.QUERY_PARAMS)).encode(),
        (),
        "query10",
    ),
    "1mib": ("/big", b"", (), "big"),
    "stale": ("/stale", b"", (), "stale"),  # ours only: adapter.build_stale_app()
    "100kib": ("/mid", b"", (), "mid"),
    "gzip": ("/mid", b"", _GZIP, "mid"),  # through GZipMiddleware (ours: compress=True)
    "gzip-today": ("/mid", b"", _GZIP, "mid"),  # ours without compress=True
}
GZIP_VARIANTS = ("gzip", "gzip-today")
PACKAGES = (
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "fastapi-caching-route",
    "aiocache",
    "fastapi-cache2",
    "cashews",
)


def _scope(variant: str, etag: bytes | None = None) -> dict:
    path, query, headers, _ = VARIANTS[variant]
    if etag is not None:
        headers = (*headers, (b"if-none-match", etag))
    return _asgi.make_scope(path, query, headers)


async def _verified_scope(adapter: Any, app: Any, variant: str) -> tuple[dict | None, str, int]:
    """The scope to time, once the app is seen answering it from its cache.

    Returns (scope or None, why not, body bytes of the timed response).
    """
    route = VARIANTS[variant][3]
    expected = 304 if variant == "304" else 200
    if not adapter.IS_CACHE:  # the floors: only the status (and the coding) can be checked
        scope = _scope(variant, _payload.ETAG.encode() if variant == "304" else None)
        got = await _asgi.request(app, scope)
        if got.status != expected:
            return None, f"status {got.status}", 0
        why = await _wrong_body(app, scope, variant)
        return (None, why, 0) if why else (scope, "", got.body_bytes)
    scope = _scope(variant)
    for _ in range(2):  # a miss that stores, then a hit
        got = await _asgi.request(app, scope)
        if got.status != 200:
            return None, f"status {got.status}", 0
    if variant == "304":
        etag = got.headers.get(b"etag")
        if etag is None:
            return None, "no ETag on hits", 0
        scope = _scope(variant, etag)
    calls, seen = _payload.CALLS[route], _payload.CALLS["middleware"]
    for _ in range(3):
        got = await _asgi.request(app, scope)
    if got.status != expected:
        return None, f"status {got.status}, expected {expected}", 0
    if _payload.CALLS[route] != calls:
        return None, "endpoint ran on a repeated request: not a hit", 0
    if adapter.hit_header(got.headers) is False:
        return None, "no hit header", 0
    if _payload.CALLS["middleware"] != seen:  # the edge variant's middleware saw the hits
        return None, "hits went through the app's middleware: not edge hits", 0
    why = await _wrong_body(app, scope, variant)
    return (None, why, 0) if why else (scope, "", got.body_bytes)


async def _wrong_body(app: Any, scope: dict, variant: str) -> str:
    """Why the compression variants' answer is not the gzip-coded ~100 KiB body
    (checked once, not timed); '' when it is, or for any other variant."""
    if variant not in GZIP_VARIANTS:
        return ""
    got = _WithBody()
    await app(dict(scope), _asgi.make_receive(), got)
    if got.headers.get(b"content-encoding") != b"gzip":
        return f"Content-Encoding {got.headers.get(b'content-encoding')!r}, expected gzip"
    try:
        decoded = gzip.decompress(got.body)
    except (OSError, EOFError):  # GZipMiddleware passes on what says it is coded already
        return "Content-Encoding: gzip on a body that is not gzip"
    if decoded != _payload.MID_BODY:
        return "the gzip body does not decode to the payload"
    return ""


@dataclass
class _WithBody(_asgi.Captured):
    """Captured, and the body itself."""

    body: bytes = b""

    async def __call__(self, message: dict) -> None:
        await super().__call__(message)
        if message["type"] == "http.response.body":
            self.body += message.get("body", b"")


STALE_WAIT = 5.0


async def _verified_stale_scope(adapter: Any, app: Any) -> tuple[dict | None, str, int]:
    """The stale variant: one miss stores the entry; once it has expired, every
    request must be a stale answer (the adapter's stale header) with the stored
    body, the first one starting the single refresh, which parks in the
    endpoint (``_endpoints``) so it stays in flight. Returns as _verified_scope."""
    scope = _scope("stale")
    calls, parked = _payload.CALLS["stale"], _payload.CALLS["stale_parked"]
    stored = _WithBody()
    await app(dict(scope), _asgi.make_receive(), stored)
    if stored.status != 200 or _payload.CALLS["stale"] != calls + 1:
        return None, f"status {stored.status} on the miss", 0
    await asyncio.sleep(_payload.STALE_TTL + 0.05)  # the entry expires
    for _ in range(4):
        got = _WithBody()
        try:  # a request that waits for the (parked) endpoint is no stale answer
            await asyncio.wait_for(app(dict(scope), _asgi.make_receive(), got), STALE_WAIT)
        except asyncio.TimeoutError:
            return None, "not a stale answer: the request waited for the endpoint", 0
        if got.status != 200 or not adapter.stale_header(got.headers):
            cache_header = got.headers.get(b"x-cache", b"none").decode()
            return None, f"not a stale answer: status {got.status}, X-Cache {cache_header}", 0
        if got.body != stored.body or got.body != _payload.BODY:
            return None, "the stale answer's body is not the stored one", 0
        for _ in range(5):  # let the refresh task start and reach the endpoint
            await asyncio.sleep(0)
    if (_payload.CALLS["stale"], _payload.CALLS["stale_parked"]) != (calls + 2, parked + 1):
        return None, "expected one refresh in flight (one parked endpoint call)", 0
    return scope, "", len(stored.body)


def _build(adapter: Any, variant: str) -> Any:
    if variant == "stale":  # stale-while-revalidate: only adapters that have it
        build = getattr(adapter, "build_stale_app", None)
        return None if build is None else build()
    return adapter.build_app(variant)


async def hitcost(adapter: Any, variants: list[str], rounds: int, round_seconds: float) -> dict:
    results: dict[str, Any] = {}
    for variant in variants:
        app = _build(adapter, variant)
        note = adapter.NOTES.get(variant, "")
        if app is None:
            results[variant] = {"us": None, "note": note or "not supported"}
            continue
        if variant == "stale":
            scope, why, body = await _verified_stale_scope(adapter, app)
        else:
            scope, why, body = await _verified_scope(adapter, app, variant)
        if scope is None:
            results[variant] = {"us": None, "note": f"not verified: {why}"}
            continue
        if variant in getattr(adapter, "PAIRED", {}):
            got = await _paired_rounds(adapter, variant, app, scope, rounds, round_seconds)
        else:
            per_round = await _asgi.rounds_of(app, scope, rounds, round_seconds)
            got = {"us": statistics.median(per_round), "rounds": per_round}
        results[variant] = {"body_bytes": body, "note": note, **got}
        why = await _wrong_body(app, scope, variant)  # still right after thousands of hits?
        if why:
            results[variant] = {"us": None, "note": f"after timing: {why}"}
    return results


async def _paired_rounds(
    adapter: Any, variant: str, app: Any, scope: dict, rounds: int, round_seconds: float
) -> dict:
    """A variant whose target is a ratio to a reference (``adapter.PAIRED``: the
    stale answer to a plain hit, the stored-gzip hit to a plain 100 KiB hit, the
    edge hit to asgi-floor), both timed in alternate rounds in this worker, side
    by side. ``ref_rounds`` pair up with ``rounds``."""
    module, ref_variant = adapter.PAIRED[variant]
    ref_adapter = importlib.import_module(module) if module else adapter
    reference = ref_adapter.build_app(ref_variant)
    ref_scope, why, _ = await _verified_scope(ref_adapter, reference, ref_variant)
    if ref_scope is None:
        return {"us": None, "note": f"reference ({ref_variant}) not verified: {why}"}
    calls = _payload.CALLS.copy()
    # Three times the rounds: the pairs' ratio is the target, and a shared
    # machine's contention hits one half of a pair as often as both.
    timed, ref_timed = await _asgi.alternate_rounds(
        [(app, scope), (reference, ref_scope)], _payload.STALE_PAIRS * rounds, round_seconds
    )
    if calls != _payload.CALLS:  # an endpoint (or the edge variant's middleware) ran
        return {"us": None, "note": "the endpoint or the middleware ran while timed: not hits"}
    return {"us": statistics.median(timed), "rounds": timed, "ref_rounds": ref_timed}


async def memory(adapter: Any, variant: str, entries: int) -> dict | None:
    """Fill with ``entries`` distinct keys through requests; RSS delta and peak."""
    app = adapter.build_app(variant)
    if app is None:
        return None
    warm = 200  # first requests build lazy state; not part of the delta
    for i in range(warm):
        await _asgi.request(app, _asgi.make_scope(f"/fill/{-1 - i}"))
    gc.collect()
    base = _asgi.rss_bytes()
    start = perf_counter()
    for i in range(entries):
        await _asgi.time_per_request(app, _asgi.make_scope(f"/fill/{i}"), 1)
    seconds = perf_counter() - start
    gc.collect()
    after, peak = _asgi.rss_bytes(), _asgi.rss_bytes("VmHWM")
    misses = _payload.CALLS["fill"] - warm
    # The last key must still be stored (the first may be evicted by a bounded store).
    calls = _payload.CALLS["fill"]
    await _asgi.request(app, _asgi.make_scope(f"/fill/{entries - 1}"))
    return {
        "entries": entries,
        "misses": misses,
        "rss_delta": after - base,
        "peak_delta": peak - base,
        "seconds": seconds,
        "last_is_hit": _payload.CALLS["fill"] == calls,
        "payload_bytes": len(_payload.BODY),
    }


async def stampede(adapter: Any, concurrency: int) -> dict | None:
    app = adapter.build_app("slow")
    if app is None:
        return None
    scope = _asgi.make_scope("/slow")
    responses = [_asgi.Captured() for _ in range(concurrency)]
    calls = _payload.CALLS["slow"]
    start = perf_counter()
    await asyncio.gather(*(app(dict(scope), _asgi.make_receive(), r) for r in responses))
    return {
        "calls": _payload.CALLS["slow"] - calls,
        "wall_ms": (perf_counter() - start) * 1e3,
        "ok": sum(r.status == 200 for r in responses),
        "requests": concurrency,
    }


WARM_HIT_SECONDS = 15.0


async def stampede_shared(adapter: Any, url: str, lock: bool, requests: int) -> dict:
    """Scenario 4b, one of two worker processes sharing Redis (``_stampede.py``).

    Builds the app on the shared store, warms it up on another key (FastAPI's
    lazy state, the Redis connections), prints ``ready`` and waits for
    ``go`` on stdin, then sends ``requests`` concurrent requests for the cold
    key. Times are wall-clock (``time.time``) so the runner can merge the two
    workers' runs. ``counters``: what the adapter's ``stampede_stats()`` counted
    during the run (ours: lock waits, fall-throughs, Redis errors).
    """
    build = getattr(adapter, "build_stampede_app", None)
    built = None if build is None else build(url, lock)
    if built is None:
        return {"error": "not supported"}
    app, close = built
    try:
        # A miss that stores, then as many concurrent hits as the stampede has
        # requests: the worker's Redis connection pool is as warm as a busy
        # worker's, so the run does not time opening connections.
        warm = _asgi.make_scope("/warm")
        for batch in (1, requests):
            got = await asyncio.gather(*(_asgi.request(app, warm) for _ in range(batch)))
            if any(r.status != 200 for r in got):
                return {"error": f"warm-up: status {[r.status for r in got]}"}
        # Opening that many connections at once on a loaded machine can time
        # out and open ours' circuit breaker (5 s): wait until a request on the
        # warm key is a hit again, so the run starts with Redis in use.
        waited = time.monotonic()
        while adapter.hit_header((await _asgi.request(app, warm)).headers) is False:
            if time.monotonic() > waited + WARM_HIT_SECONDS:
                return {"error": f"warm-up: no hit within {WARM_HIT_SECONDS:g} s"}
            await asyncio.sleep(0.2)
        waited = time.monotonic() - waited
        stats = getattr(adapter, "stampede_stats", dict)
        before = stats()
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        if (await loop.run_in_executor(None, sys.stdin.readline)).strip() != "go":
            return {"error": "no go from the runner"}
        scope = _asgi.make_scope("/slow")
        responses = [_asgi.Captured() for _ in range(requests)]
        calls = _payload.CALLS["slow"]
        start = time.time()
        await asyncio.gather(*(app(dict(scope), _asgi.make_receive(), r) for r in responses))
        end = time.time()
        after = stats()
        counters = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k)}
    finally:
        stuck = await _close_within(close, CLOSE_SECONDS)
        if stuck:  # asyncio.run would wait for the stuck task forever: report and leave now
            _emit({"error": stuck})
            os._exit(0)
    return {
        "calls": _payload.CALLS["slow"] - calls,
        "ok": sum(r.status == 200 for r in responses),
        "requests": requests,
        "start": start,
        "end": end,
        "counters": counters,
        "warm_wait_s": waited,
    }


async def shared(
    adapter: Any,
    kinds: list[str],
    url: str,
    rounds: int,
    round_seconds: float,
    probe: int,
    concurrency: int,
) -> dict:
    """Scenario 5: plain hits on each kind of shared store the adapter offers.

    Each kind starts from an empty Redis and closes its clients when done. A
    probe of ``probe`` hits, between verification and timing, reads the
    server's counters: Redis commands and keyspace hits per request. Timed
    twice: one request at a time (the hit's latency, round trip included),
    then ``concurrency`` at a time (the round trips overlap: CPU per hit).
    """
    port = urlsplit(url).port
    build = getattr(adapter, "build_shared_app", None)
    results: dict[str, Any] = {}
    for kind in kinds:
        _redis(port).flushall()
        built = build(kind, url) if build is not None else None
        if built is None:
            results[kind] = {"us": None, "note": "not supported"}
            continue
        app, close = built
        try:
            bare = url if kind in getattr(adapter, "BARE_GET_KINDS", ()) else None
            got = await _shared_hits(
                adapter, app, port, rounds, round_seconds, probe, concurrency, bare
            )
        finally:
            stuck = await _close_within(close, CLOSE_SECONDS)
        results[kind] = {"note": getattr(adapter, "SHARED_NOTES", {}).get(kind, ""), **got}
        if stuck:
            results[kind]["note"] = f"{results[kind]['note']}; {stuck}".lstrip("; ")
            # asyncio.run would wait for the stuck task forever: report and leave now.
            _emit(results)
            os._exit(0)
    return results


CLOSE_SECONDS = 10.0


async def _concurrent_rounds(
    app: Any, scope: dict, rounds: int, round_seconds: float, concurrency: int
) -> list[float]:
    """Wall µs per request, ``concurrency`` requests in flight (asyncio.gather);
    calibrated and warmed up as ``_asgi.rounds_of``."""

    async def per_request(batches: int) -> float:
        send = _asgi.null_send
        start = perf_counter_ns()
        for _ in range(batches):
            await asyncio.gather(
                *(app(dict(scope), _asgi.make_receive(), send) for _ in range(concurrency))
            )
        return (perf_counter_ns() - start) / (batches * concurrency) / 1000

    batches = 1
    while True:
        us = await per_request(batches)
        if us * batches * concurrency / 1e6 >= round_seconds / 2 or batches >= 1 << 16:
            break
        batches *= 2
    batches = max(1, int(round_seconds * 1e6 / (us * concurrency)))
    return [await per_request(batches) for _ in range(rounds)]


async def _close_within(close: Any, seconds: float) -> str:
    """Close the clients; '' once done, else why not.

    A short pause first lets background tasks (the tiered store's invalidation
    listener) finish connecting, as they would have long before a real app's
    shutdown: hits never yield to the event loop.
    """
    await asyncio.sleep(0.1)
    task = asyncio.ensure_future(close())
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        return f"close() did not return within {seconds:g} s"
    task.result()
    return ""


async def _shared_hits(
    adapter: Any,
    app: Any,
    port: int,
    rounds: int,
    round_seconds: float,
    probe: int,
    concurrency: int,
    bare_url: str | None = None,
) -> dict:
    """Hits timed one at a time and ``concurrency`` at a time. With ``bare_url``,
    the sequential hits alternate, round by round, with a bare redis-py GET of
    the value the app stored (``_BareGet``): the reference of ours' Redis hits."""
    scope, why, body = await _verified_scope(adapter, app, "plain")
    if scope is None:
        return {"us": None, "note": f"not verified: {why}"}
    counters = _redis(port)  # one connection: its handshake precedes `before`
    before = counters.info("stats")
    await _asgi.time_per_request(app, scope, probe)
    after = counters.info("stats")

    def per_request(counter: str, extra: int = 0) -> float:
        return (int(after[counter]) - int(before[counter]) - extra) / probe

    calls = _payload.CALLS["plain"]
    bare: dict[str, Any] = {}
    if bare_url is None:
        per_round = await _asgi.rounds_of(app, scope, rounds, round_seconds)
    else:
        get = await _BareGet.of_stored_value(bare_url, counters)
        try:
            per_round, bare_rounds = await _asgi.alternate_rounds(
                [(app, scope), (get, scope)], _payload.STALE_PAIRS * rounds, round_seconds
            )
            bare_concurrent = await _concurrent_rounds(
                get, scope, rounds, round_seconds, concurrency
            )
        finally:
            await get.client.aclose()
        bare = {
            "bare_rounds": bare_rounds,
            "bare_us": statistics.median(bare_rounds),
            "bare_concurrent_rounds": bare_concurrent,
            "bare_concurrent_us": statistics.median(bare_concurrent),
            "bare_value_bytes": get.size,
            "bare_parser": get.parser,
        }
    concurrent = await _concurrent_rounds(app, scope, rounds, round_seconds, concurrency)
    if _payload.CALLS["plain"] != calls:
        return {"us": None, "note": "the endpoint ran while hits were timed"}
    return {
        **bare,
        "us": statistics.median(per_round),
        "rounds": per_round,
        "concurrent_us": statistics.median(concurrent),
        "concurrent_rounds": concurrent,
        "body_bytes": body,
        # The first INFO counts itself once it has run.
        "redis_commands_per_request": per_request("total_commands_processed", 1),
        "redis_hits_per_request": per_request("keyspace_hits"),
        "redis_keys": counters.dbsize(),
    }


class _BareGet:
    """An "app" that only does ``await client.get(key)``: redis-py asyncio (hiredis
    parser when installed) with one connection pool, as a worker would hold it,
    fetching the value the cache stored. Called like the apps, so the harness
    costs the same."""

    def __init__(self, client: Any, key: bytes, size: int) -> None:
        from redis.asyncio.connection import DefaultParser  # _AsyncHiredisParser with hiredis

        self.client, self.key, self.size = client, key, size
        parser = client.connection_pool.connection_kwargs.get("parser_class", DefaultParser)
        self.parser: str = parser.__name__

    @classmethod
    async def of_stored_value(cls, url: str, counters: Any) -> _BareGet:
        """The largest string value in Redis (the entry; the cache may keep
        small keys beside it) and a client to GET it."""
        import redis.asyncio  # only the shared-store task needs it

        sizes = {
            key: counters.strlen(key)
            for key in counters.scan_iter(count=1000)
            if counters.type(key) == b"string"
        }
        if not sizes:
            raise RuntimeError("no stored value in Redis to GET")
        key = max(sizes, key=lambda k: sizes[k])
        client = redis.asyncio.Redis.from_url(url)
        if await client.get(key) is None:
            raise RuntimeError(f"GET {key!r} found nothing")
        return cls(client, key, sizes[key])

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.client.get(self.key)


def serve(adapter: Any, port: int, variant: str = "plain") -> None:
    import uvicorn  # only this task needs it

    uvicorn.run(
        adapter.build_app(variant),
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def main() -> None:
    module, task, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    adapter = importlib.import_module(module)
    if task == "serve":
        serve(adapter, **args)
        return
    coroutine = {
        "hitcost": hitcost,
        "memory": memory,
        "stampede": stampede,
        "stampede_shared": stampede_shared,
        "shared": shared,
    }[task]
    _emit(asyncio.run(coroutine(adapter, **args)))


def _emit(result: Any) -> None:
    sys.stdout.write(json.dumps({"result": result, "versions": _versions()}) + "\n")
    sys.stdout.flush()


def _redis(port: int | None) -> Any:
    """A client for the harness's own commands (flush, counters), not timed."""
    import redis  # only the shared-store task needs it

    # No CLIENT SETINFO on connect: the counters read around a measurement
    # must see only the INFO command itself.
    return redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=5.0, lib_name=None, lib_version=None
    )


if __name__ == "__main__":
    main()
