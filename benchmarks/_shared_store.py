"""Scenario 5: hit cost on a shared store, a real local ``redis-server``.

The runner starts one ``redis-server`` (no persistence) on a free loopback
port, runs each system's ``shared`` task in its own venv (``_worker.py``; the
worker empties Redis before each kind of store and closes its clients after
it) and stops the server at the end. Compared: ours on :class:`RedisBackend`,
the 0.6.0 seed on aiocache's ``RedisCache`` with pickle, fastapi-cache2 on its
``RedisBackend``; and ours on :class:`TieredBackend` (L1 memory in front of
Redis) against ours on the plain memory store, measured in the same worker.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from ._report import Section, Target, fmt, ratio, target_cells
from ._systems import System, run_safe

SYSTEMS = ("ours", "seed", "fastapi-cache2")
# Ours: the plain memory store is the reference of the tiered one; "tiered-l2"
# has an L1 too small to hold anything, so every hit is answered by Redis.
OURS_KINDS = ("memory", "tiered", "redis", "tiered-l2")
OTHER_KINDS = ("redis",)
LABELS = {
    "redis": "{}",
    "tiered-l2": "{}, tiered, empty L1",
    "tiered": "{}, tiered",
    "memory": "{}, memory store",
}
PROBE_REQUESTS = 100
CONCURRENCY = 32  # requests in flight for the second measure (round trips overlap)
# ours ÷ seed and ÷ a bare GET on Redis, ours tiered ÷ ours memory (BENCHMARKS.md, "Goals").
REDIS_VS_SEED = 0.5
REDIS_VS_BARE_GET = 1.3
TIERED_VS_MEMORY = 1.2
# The lists of rounds a worker returns per kind ("bare_": the bare GET of ours'
# kinds in bench_ours.BARE_GET_KINDS).
ROUND_LISTS = ("", "concurrent_", "bare_", "bare_concurrent_")
BARE = "bare redis-py GET (hiredis) of ours' value"


class RedisServerError(RuntimeError):
    pass


class RedisServer:
    """One throwaway ``redis-server`` on 127.0.0.1: no RDB, no AOF, its own directory."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = 0
        self.version = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        try:
            for _ in range(3):  # the free port may be taken between the probe and the bind
                if self._start(_free_port()):
                    break
            else:
                raise RedisServerError(f"redis-server did not start:\n{self._log()}")
            self.version = str(_client(self.port).info("server").get("redis_version", ""))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: redis-server shuts down (nothing to save)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def flush(self) -> None:
        _client(self.port).flushall()

    def _start(self, port: int) -> bool:
        assert self._dir is not None
        log = Path(self._dir.name) / "redis.log"
        with log.open("ab") as out:
            # The log goes to stdout (an empty --logfile), kept for the error message.
            self._process = subprocess.Popen(
                [
                    self.executable,
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", self._dir.name,
                    "--daemonize", "no",
                    "--logfile", "",
                    "--loglevel", "warning",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                if _client(port, timeout=1).ping():
                    self.port = port
                    return True
            except (OSError, redis.RedisError):  # not listening yet, or still loading
                pass
            time.sleep(0.02)
        self._process.kill()
        self._process.wait()
        return False

    def _log(self) -> str:
        if self._dir is None:
            return ""
        log = Path(self._dir.name) / "redis.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(systems: list[System], cfg: dict[str, Any], versions: dict[str, Any]) -> list[Section]:
    section = Section(
        "Scenario 5: shared store, hit cost with a local redis-server (µs per request, "
        "median of rounds)"
    )
    import fastapi_caching_route  # the project venv runs this module

    if not hasattr(fastapi_caching_route, "TieredBackend"):
        section.notes.append("not run: fastapi_caching_route has no RedisBackend/TieredBackend")
        return [section]
    executable = shutil.which("redis-server")
    if executable is None:
        section.notes.append(
            "not run: redis-server is not installed (`make bench` installs it: "
            "`apt-get install redis-server`)"
        )
        return [section]
    compared = [s for name in SYSTEMS for s in systems if s.name == name]
    try:
        with RedisServer(executable) as server:
            merged = _measure(server, compared, cfg, versions)
            version = server.version
    except (RedisServerError, OSError, redis.RedisError) as error:
        section.notes.append(f"not run: {error}")
        return [section]
    section.raw = {"redis_server": version, "systems": merged}
    _table(section, compared, merged)
    against = _against_references(merged)
    section.notes += [
        f'redis-server {version} on 127.0.0.1 (`--save "" --appendonly no`), started for '
        "this scenario; FLUSHALL before each system and each kind of store. Each "
        "request is a direct ASGI call of the plain 1 KiB route (as scenario 1), so a "
        "Redis hit includes a real loopback round trip.",
        f"{cfg['rounds']} rounds x {cfg['passes']} pass(es) of ≥ {cfg['round_seconds']} s per "
        "system and store, after a warm-up; each app is first checked to answer hits "
        "(endpoint call counter unchanged, hit header), else n/a. Redis cmds/hits per "
        f"request: the server's counters over {PROBE_REQUESTS} hits. "
        f'"{CONCURRENCY} in flight": wall time ÷ requests of batches of {CONCURRENCY} '
        "concurrent requests (asyncio.gather): the round trips overlap, so this is the "
        "CPU cost of a hit (throughput⁻¹); the targets are on the first, sequential measure.",
        "Tiered group: ours tiered (an L1 hit, Redis untouched) against ours on the "
        "plain memory store, both measured in this scenario, same worker. "
        '"tiered, empty L1": a TieredBackend whose L1 holds nothing, so every hit '
        "asks Redis (the cost of a hit on another worker's entry).",
        f"{BARE}: in ours' worker, after ours' Redis hits are verified, the largest value "
        "in Redis (the entry ours stored) fetched by `await client.get(key)` on a "
        "`redis.asyncio.Redis.from_url(url)` (one connection pool, the hiredis parser), "
        "called like an app; timed in alternate rounds with ours' hits (three pairs per "
        "round), so its row's vs. ours is the median of the per-pair ratios.",
    ]
    return [section, against]


def _measure(
    server: RedisServer, compared: list[System], cfg: dict[str, Any], versions: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {s.name: {} for s in compared}
    for p in range(cfg["passes"]):  # alternate the order so drift hits all systems alike
        for system in compared if p % 2 == 0 else compared[::-1]:
            kinds = list(OURS_KINDS if system.name == "ours" else OTHER_KINDS)
            server.flush()
            args = {
                "kinds": kinds if p % 2 == 0 else kinds[::-1],
                "url": server.url,
                "rounds": cfg["rounds"],
                "round_seconds": cfg["round_seconds"],
                "probe": PROBE_REQUESTS,
                "concurrency": CONCURRENCY,
            }
            result = run_safe(system, "shared", args, versions)
            for kind in kinds:
                got = result.get(kind) or {"us": None, "note": result.get("error", "")}
                lists = [m + "rounds" for m in ROUND_LISTS if m + "rounds" in got]
                have = merged[system.name].setdefault(kind, {**got, **{key: [] for key in lists}})
                if got["us"] is None or have["us"] is None:  # unverified in any pass: n/a
                    have.update(us=None, concurrent_us=None, bare_us=None)
                    have["note"] = got.get("note") or have.get("note", "")
                else:
                    for measure in ROUND_LISTS:
                        if measure + "rounds" in got:
                            have[measure + "rounds"] = (
                                have[measure + "rounds"] + got[measure + "rounds"]
                            )
                            have[measure + "us"] = statistics.median(have[measure + "rounds"])
    return merged


def _table(section: Section, compared: list[System], merged: dict[str, dict[str, Any]]) -> None:
    section.columns = [
        "store",
        "system",
        "µs/req",
        "vs. ours (ours ÷ this)",
        "target",
        "status",
        f"µs/req, {CONCURRENCY} in flight",
        "vs. ours",
        "Redis cmds/req",
        "Redis hits/req",
        "note",
    ]

    def us(cell: tuple[str, str], measure: str) -> float | None:
        system, kind = cell
        return (merged.get(system, {}).get(kind) or {}).get(measure)

    def row(
        store: str, this: tuple[str, str], ours: tuple[str, str], goal: tuple[str, float] | None
    ) -> None:
        """One system and kind of store; "ours" is the group's reference (ours ÷ this)."""
        got = merged.get(this[0], {}).get(this[1]) or {}
        r = ratio(us(ours, "us"), us(this, "us"))
        target = None if goal is None else Target(goal[0], r, "<=", goal[1])
        if target is not None:
            section.targets.append(target)
        section.rows.append(
            [
                store,
                LABELS[this[1]].format(this[0]),
                fmt(got.get("us")),
                fmt(r),
                *target_cells(target),
                fmt(got.get("concurrent_us")),
                fmt(ratio(us(ours, "concurrent_us"), us(this, "concurrent_us"))),
                fmt(got.get("redis_commands_per_request")),
                fmt(got.get("redis_hits_per_request")),
                got.get("note", ""),
            ]
        )

    ours_redis, tiered = ("ours", "redis"), ("ours", "tiered")
    for system in compared:  # the targets against the seed: Scenario 5b
        row("Redis", (system.name, "redis"), ours_redis, None)
    row("Redis", ("ours", "tiered-l2"), ours_redis, None)
    bare = merged.get("ours", {}).get("redis") or {}
    section.rows.append(
        [
            "Redis",
            BARE,
            fmt(bare.get("bare_us")),
            fmt(_per_pair(bare, "")),
            "",
            "",
            fmt(bare.get("bare_concurrent_us")),
            fmt(ratio(bare.get("concurrent_us"), bare.get("bare_concurrent_us"))),
            "1 (GET)",
            "1 (GET)",
            f"{bare.get('bare_value_bytes', '?')} B value, {bare.get('bare_parser', '?')}",
        ]
    )
    row("tiered (L1 + Redis)", tiered, tiered, None)
    goal = ("tiered hit cost: ours tiered ÷ ours memory store", TIERED_VS_MEMORY)
    row("tiered (L1 + Redis)", ("ours", "memory"), tiered, goal)


def _per_pair(got: dict[str, Any], measure: str) -> float | None:
    """Median over the pairs of alternate rounds of ours ÷ the bare GET."""
    ours, bare = got.get(measure + "rounds"), got.get("bare_" + measure + "rounds")
    if got.get("us") is None or not ours or not bare or len(ours) != len(bare):
        return None
    return statistics.median(o / b for o, b in zip(ours, bare, strict=True))


def _against_references(merged: dict[str, dict[str, Any]]) -> Section:
    """Scenario 5b: ours' Redis hits (RedisBackend, and tiered with an empty L1)
    against a bare GET of the same value and against the seed."""
    section = Section(
        "Scenario 5b: ours' Redis hits against a bare redis-py GET and the seed "
        "(µs per request, one at a time)",
        [
            "ours",
            "µs/req",
            "bare GET µs (alternate rounds)",
            "÷ bare GET",
            "target",
            "status",
            "÷ seed",
            "target",
            "status",
            f"{CONCURRENCY} in flight: ÷ bare GET",
            "÷ seed",
        ],
    )
    seed = merged.get("seed", {}).get("redis") or {}
    for kind, label in (("redis", "RedisBackend"), ("tiered-l2", "tiered, empty L1")):
        got = merged.get("ours", {}).get(kind) or {}
        vs_bare = Target(
            f"Redis hit cost: ours {label} ÷ bare redis-py GET",
            _per_pair(got, ""),
            "<=",
            REDIS_VS_BARE_GET,
        )
        vs_seed = Target(
            f"Redis hit cost: ours {label} ÷ seed",
            ratio(got.get("us"), seed.get("us")),
            "<=",
            REDIS_VS_SEED,
        )
        section.targets += [vs_bare, vs_seed]
        section.rows.append(
            [
                label,
                fmt(got.get("us")),
                fmt(got.get("bare_us")),
                fmt(vs_bare.measured),
                *target_cells(vs_bare),
                fmt(vs_seed.measured),
                *target_cells(vs_seed),
                fmt(ratio(got.get("concurrent_us"), got.get("bare_concurrent_us"))),
                fmt(ratio(got.get("concurrent_us"), seed.get("concurrent_us"))),
            ]
        )
    section.notes.append(
        "÷ bare GET: the median of ours ÷ bare GET over pairs of alternate rounds in ours' "
        "worker (each kind of store has its own bare GET of the value it stored); ÷ seed: "
        "the ratio of the medians in the table above (separate workers). "
        f"{CONCURRENCY} in flight: the same, with that many requests at once (context)."
    )
    return section


def _client(port: int, timeout: float = 5.0) -> redis.Redis:
    """A client for the harness's own commands (flush, counters), not timed."""
    return redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=timeout, lib_name=None, lib_version=None
    )
