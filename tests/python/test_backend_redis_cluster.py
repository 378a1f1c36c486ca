"""RedisBackend on a real three-node Redis Cluster started for these tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Calls, caching_router, make_app, open_client
from fastapi import Request
from fastapi.responses import PlainTextResponse
from redis.asyncio.cluster import RedisCluster

from fastapi_caching_route import FastAPICache, RedisBackend, StoredResponse, _core

pytestmark = pytest.mark.anyio

ENTRY = StoredResponse(200, ((b"content-type", b"text/plain"),), b"clustered", "text/plain")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    # Each node also listens on its port + 10000 (the cluster bus): both must
    # be free, and below 65536 -- ephemeral ports from the OS often are not.
    ports: list[int] = []
    candidate = 20000 + (os.getpid() % 1000) * 20
    while len(ports) < count:
        if _bindable(candidate) and _bindable(candidate + 10000):
            ports.append(candidate)
        candidate += 1
    return ports


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server on port {port} did not start")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.fail("redis-server and redis-cli are needed: `make test` installs them")
    ports = _free_ports(3)
    workdir: Path = tmp_path_factory.mktemp("cluster")
    processes = []
    try:
        for port in ports:
            node = workdir / str(port)
            node.mkdir()
            processes.append(
                subprocess.Popen(
                    [
                        server,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node / "nodes.conf"),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(node),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port, process in zip(ports, processes, strict=True):
            _wait_for_port(port, process)
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while (
            b"cluster_state:ok"
            not in subprocess.run(
                [cli, "-p", str(ports[0]), "cluster", "info"], capture_output=True, check=True
            ).stdout
        ):
            if time.monotonic() > deadline:
                pytest.fail("the cluster did not become ready")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


async def test_entries_spread_over_the_cluster(cluster_url: str) -> None:
    client = RedisCluster.from_url(cluster_url)
    backend = RedisBackend(client)
    keys = [f"GET /item/{i}" for i in range(40)]
    for key in keys:
        assert await backend.set(key, ENTRY, namespace="c")
    await backend.set(keys[0], ENTRY, namespace="other")
    found = await backend.get(keys[7], namespace="c")
    assert found is not None and found.body == b"clustered"
    nodes_with_keys = 0
    for node in client.get_primaries():
        if await client.dbsize(target_nodes=node):
            nodes_with_keys += 1
    assert nodes_with_keys >= 2  # digests spread the namespace over the shards
    assert await backend.delete(keys[0], namespace="c") == 1
    assert await backend.clear("c") == 39  # scans every node
    assert await backend.get(keys[0], namespace="other") is not None
    await backend.close()


async def test_an_app_on_the_cluster(cluster_url: str) -> None:
    backend = RedisBackend(RedisCluster.from_url(cluster_url))
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/cluster")
    def endpoint(q: str = "a") -> str:
        calls()
        return q

    async with open_client(make_app(router)) as client:
        for q in ("a", "b", "c"):
            assert (await client.get(f"/cluster?q={q}")).headers["x-cache"] == "MISS"
            assert (await client.get(f"/cluster?q={q}")).headers["x-cache"] == "HIT"
    assert calls.count == 3
    await backend.close()


async def test_vary_variants_on_the_cluster(cluster_url: str) -> None:
    # The index, the variants and their order share the key's hash tag: one
    # slot, so the Lua script that bounds them runs on one node.
    backend = RedisBackend(RedisCluster.from_url(cluster_url), max_variants=2)
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/lang")
    def lang(request: Request) -> PlainTextResponse:
        calls()
        language = request.headers.get("accept-language", "")
        return PlainTextResponse(language, headers={"vary": "accept-language"})

    async with open_client(make_app(router)) as client:
        statuses = []
        for language in ("en", "de", "en", "de", "fr", "en"):
            r = await client.get("/lang", headers={"accept-language": language})
            assert r.text == language
            statuses.append(r.headers["x-cache"])
    assert statuses == ["MISS", "MISS", "HIT", "HIT", "MISS", "MISS"]  # fr pushed en out
    assert backend.stats()["variants_dropped"] >= 1
    assert await cache.invalidate_cached("GET /lang") == 2  # every variant of the key
    assert await backend.get("GET /lang", headers=[(b"accept-language", b"fr")]) is None
    await backend.close()


# --- tags and the lock on the cluster (issue 9) ----------------------------------------


def _tagged(*tags: str, body: bytes = b"clustered", vary: str = "") -> StoredResponse:
    return StoredResponse(
        200,
        ((b"content-type", b"text/plain"),),
        body,
        "text/plain",
        stored_at=time.time(),
        lifetime=60.0,
        stale_while_revalidate=30.0,
        vary=("accept-language",) if vary else (),
        secondary=f"accept-language={vary}" if vary else "",
        tags=tags,
    )


async def test_tags_on_the_cluster(cluster_url: str) -> None:
    # Each tag's index has its own hash tag, entries theirs: every command
    # touches one slot, so nothing here may raise CROSSSLOT.
    client = RedisCluster.from_url(cluster_url)
    backend = RedisBackend(client)
    keys = [f"GET /tagged/{i}" for i in range(30)]
    for i, key in enumerate(keys):
        assert await backend.set(key, _tagged("all", f"item:{i}", "path:/tagged"), ttl=600)
    for language in ("en", "de"):
        assert await backend.set("GET /page", _tagged("all", vary=language), ttl=600)
    slots = {client.keyslot(backend.tag_key(tag)) for tag in ("all", "item:1", "path:/tagged")}
    assert len(slots) == 3
    assert await backend.invalidate_tags(["item:3", "item:4"]) == 2
    assert await backend.get(keys[3]) is None and await backend.get(keys[5]) is not None
    assert await backend.invalidate_tags(["all"], soft=True) == 28 + 2  # variants count
    found = await backend.get("GET /page", headers=[(b"accept-language", b"de")])
    assert found is not None
    decision = _core.decide_reuse(found.timing, time.time(), False)[0]
    assert decision == "stale_while_revalidate"
    assert await backend.invalidate_tags(["all"]) == 30
    assert await backend.get(keys[5]) is None
    assert await backend.get("GET /page", headers=[(b"accept-language", b"en")]) is None
    await backend.close()


async def test_the_lock_on_the_cluster(cluster_url: str) -> None:
    client = RedisCluster.from_url(cluster_url)
    first = RedisBackend(client, lock=True, lock_lease=2.0)
    second = RedisBackend(RedisCluster.from_url(cluster_url), lock=True, lock_lease=2.0)
    for i in range(6):  # keys on several nodes
        key = f"GET /locked/{i}"
        slot = client.keyslot(first.lock_key(key))
        assert slot == client.keyslot(first.redis_key(key))  # the entry's slot
        handle = await first.acquire(key)
        assert handle is not None
        assert await second.acquire(key) is None
        waiting = asyncio.ensure_future(second.wait_released(key, None, 30.0))
        assert await handle.release()
        assert await asyncio.wait_for(waiting, 30.0)
    assert first.stats()["lock_acquired"] == 6
    assert second.stats()["lock_busy"] == 6
    await first.close()
    await second.close()


async def test_one_endpoint_call_across_two_workers_on_the_cluster(cluster_url: str) -> None:
    import asyncio

    calls: list[int] = []
    apps = []
    backends = []
    for _ in range(2):
        backend = RedisBackend(RedisCluster.from_url(cluster_url), lock=True, lock_lease=5.0)
        backends.append(backend)
        router = caching_router()
        cache = FastAPICache(backend)

        @cache(ttl=60)
        @router.get("/cold")
        async def cold() -> dict[str, int]:
            calls.append(1)
            await asyncio.sleep(0.3)
            return {"calls": len(calls)}

        apps.append(make_app(router))
    async with open_client(apps[0]) as a, open_client(apps[1]) as b:
        responses = await asyncio.gather(*(c.get("/cold") for c in (a, b) * 10))
    for backend in backends:
        await backend.close()
    assert all(r.status_code == 200 for r in responses)
    assert len(calls) == 1
