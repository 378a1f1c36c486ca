"""FastAPICache (mirrors _cache.py): the 0.6.0 signature, validation at creation
time, the decorator, and the cache API used directly."""

import inspect
import math

import pytest
from aiocache import SimpleMemoryCache
from conftest import MakeCache
from fastapi import Depends
from starlette.datastructures import MutableHeaders

from fastapi_caching_route import (
    DEFAULT_ACCEPTED_STATUS_CODES,
    AiocacheBackend,
    CachedResponse,
    FastAPICache,
    MemoryBackend,
)

# --- construction -----------------------------------------------------------------------


def test_constructor_signature_matches_0_6_0() -> None:
    params = inspect.signature(FastAPICache).parameters
    assert next(iter(params)) == "cache"
    expected = {
        "namespace_policy": "concat",
        "cache_header": "X-Cache",
        "cache_header_hit": "HIT",
        "cache_header_miss": "MISS",
        "accepted_status_codes": DEFAULT_ACCEPTED_STATUS_CODES,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default == default, name


def test_decorator_signature_matches_0_6_0() -> None:
    params = inspect.signature(FastAPICache().__call__).parameters
    expected = {
        "key_builder": None,
        "dependencies": (),
        "vary_headers": (),
        "namespace": None,
        "ttl": None,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default == default, name


def test_backend_resolution() -> None:
    assert isinstance(FastAPICache().backend, MemoryBackend)
    native = MemoryBackend()
    assert FastAPICache(native).backend is native
    aio = SimpleMemoryCache()
    adapter = FastAPICache(aio).backend
    assert isinstance(adapter, AiocacheBackend)
    assert adapter.cache is aio
    # 0.6.0 passed the aiocache instance positionally *or* by keyword.
    assert isinstance(FastAPICache(cache=SimpleMemoryCache()).backend, AiocacheBackend)


@pytest.mark.parametrize("cache", [object(), "memory", {}, 42])
def test_unknown_cache_object_is_rejected(cache: object) -> None:
    with pytest.raises(TypeError, match="cache"):
        FastAPICache(cache)


def test_accepted_status_codes_default_and_custom(make_cache: MakeCache) -> None:
    assert make_cache().accepted_status_codes == frozenset({200})
    assert make_cache(accepted_status_codes=[200, 404, 404]).accepted_status_codes == {200, 404}


@pytest.mark.parametrize("policy", ["append", "", "CONCAT", None])
def test_unknown_namespace_policy_is_rejected(make_cache: MakeCache, policy: object) -> None:
    with pytest.raises(ValueError, match="namespace_policy"):
        make_cache(namespace_policy=policy)


@pytest.mark.parametrize("header", ["", " ", "X Cache", "X-Cache:", "X-Cache\r\nX-Evil", "\u00e9"])
def test_invalid_cache_header_is_rejected(make_cache: MakeCache, header: str) -> None:
    with pytest.raises(ValueError, match="cache_header"):
        make_cache(cache_header=header)


@pytest.mark.parametrize("name", ["cache_header", "cache_header_hit", "cache_header_miss"])
def test_non_str_cache_header_settings_are_rejected(make_cache: MakeCache, name: str) -> None:
    with pytest.raises(TypeError, match=name):
        make_cache(**{name: b"X-Cache"})


@pytest.mark.parametrize("name", ["cache_header_hit", "cache_header_miss"])
def test_cache_header_values_that_cannot_be_sent_are_rejected(name: str) -> None:
    # A header value with CR/LF/NUL would break (or inject into) every response.
    for value in ("HIT\r\nSet-Cookie: a=b", "MISS\n", "\x00"):
        with pytest.raises(ValueError, match=name):
            FastAPICache(**{name: value})


@pytest.mark.parametrize("codes", [{200, 1000}, {99}, {"200"}, {True}])
def test_invalid_accepted_status_codes_are_rejected(make_cache: MakeCache, codes: object) -> None:
    with pytest.raises(ValueError, match="accepted_status_codes"):
        make_cache(accepted_status_codes=codes)


@pytest.mark.parametrize("codes", [200, "200", None])
def test_non_iterable_accepted_status_codes_are_rejected(
    make_cache: MakeCache, codes: object
) -> None:
    with pytest.raises(TypeError, match="accepted_status_codes"):
        make_cache(accepted_status_codes=codes)


# --- the decorator ----------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [0, -1, -0.5, 0.0, math.inf, -math.inf, math.nan])
def test_non_positive_or_non_finite_ttl_is_rejected(make_cache: MakeCache, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        make_cache()(ttl=ttl)


@pytest.mark.parametrize("ttl", ["60", True, [60]])
def test_non_numeric_ttl_is_rejected(make_cache: MakeCache, ttl: object) -> None:
    with pytest.raises(TypeError, match="ttl"):
        make_cache()(ttl=ttl)


@pytest.mark.parametrize("ttl", [1, 0.5, 3600])
def test_positive_ttl_is_accepted(make_cache: MakeCache, ttl: float) -> None:
    make_cache()(ttl=ttl)


@pytest.mark.parametrize("key_builder", ["key", 42, object()])
def test_non_callable_key_builder_is_rejected(make_cache: MakeCache, key_builder: object) -> None:
    with pytest.raises(TypeError, match="key_builder"):
        make_cache()(key_builder=key_builder)


@pytest.mark.parametrize("vary", ["accept", b"accept", 42, None])
def test_vary_headers_must_be_a_sequence_of_names(make_cache: MakeCache, vary: object) -> None:
    with pytest.raises(TypeError, match="vary_headers"):
        make_cache()(vary_headers=vary)


@pytest.mark.parametrize(
    "vary", [[""], ["   "], ["accept", ""], ["accept language"], ["accept:"], ["x\r\ny"]]
)
def test_blank_or_invalid_vary_header_names_are_rejected(
    make_cache: MakeCache, vary: list[str]
) -> None:
    with pytest.raises(ValueError, match="vary_headers"):
        make_cache()(vary_headers=vary)


@pytest.mark.parametrize("dependencies", [[lambda: None], "dep", Depends(lambda: None), [None]])
def test_dependencies_must_be_depends_objects(make_cache: MakeCache, dependencies: object) -> None:
    with pytest.raises(TypeError, match="dependencies"):
        make_cache()(dependencies=dependencies)


@pytest.mark.parametrize(("namespace", "error"), [("", ValueError), (42, TypeError)])
def test_invalid_namespace_is_rejected(
    make_cache: MakeCache, namespace: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="namespace"):
        make_cache()(namespace=namespace)


def test_decorator_returns_the_endpoint_unchanged(make_cache: MakeCache) -> None:
    def endpoint() -> str:
        return "x"

    assert make_cache()(ttl=5, namespace="ns", vary_headers=["accept"])(endpoint) is endpoint
    assert endpoint() == "x"


# --- the cache API ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "root", "params", "expected"),
    [
        (
            "concat",
            "root",
            {"namespace": "route", "ttl": 5.0},
            {"namespace": "root:route", "ttl": 5.0},
        ),
        ("replace", "root", {"namespace": "route", "ttl": 5.0}, {"namespace": "route", "ttl": 5.0}),
        ("concat", "root", {"ttl": 5.0}, {"ttl": 5.0}),
        ("replace", "root", {}, {}),
        ("concat", None, {"namespace": "route"}, {"namespace": "route"}),
        ("replace", None, {"namespace": "route"}, {"namespace": "route"}),
    ],
)
def test_prepare_cache_params(
    make_cache: MakeCache, policy: str, root: str | None, params: dict, expected: dict
) -> None:
    cache = make_cache(root_namespace=root, namespace_policy=policy)
    original = dict(params)
    assert cache.prepare_cache_params(params) == expected  # type: ignore[arg-type]
    assert params == original  # the input is not modified


@pytest.mark.parametrize("hit", [True, False])
def test_set_cache_header(make_cache: MakeCache, hit: bool) -> None:
    cache = make_cache(cache_header="X-Store", cache_header_hit="yes", cache_header_miss="no")
    plain: dict[str, str] = {}
    cache.set_cache_header(plain, hit=hit)
    assert plain == {"X-Store": "yes" if hit else "no"}
    mutable = MutableHeaders()
    cache.set_cache_header(mutable, hit=hit)
    cache.set_cache_header(mutable, hit=hit)  # sets, never appends
    assert mutable.getlist("x-store") == ["yes" if hit else "no"]


@pytest.mark.anyio
async def test_get_set_invalidate_round_trip(make_cache: MakeCache) -> None:
    cache = make_cache(root_namespace="root")
    value: CachedResponse = {
        "content": b"payload",
        "media_type": "text/plain",
        "raw_headers": [(b"content-type", b"text/plain"), (b"x-a", b"1"), (b"x-a", b"2")],
        "status_code": 203,
    }
    params = cache.prepare_cache_params({"namespace": "ns", "ttl": 60.0})
    assert await cache.get_cached("k", params["namespace"]) is None
    assert await cache.set_cached("k", value, params)
    got = await cache.get_cached("k", "root:ns")
    assert got is not None
    assert bytes(got["content"]) == b"payload"
    assert got["media_type"] == "text/plain"
    assert got["status_code"] == 203
    assert [(bytes(k), bytes(v)) for k, v in got["raw_headers"]] == value["raw_headers"]
    assert await cache.get_cached("k") is None  # the root namespace is another place
    assert await cache.invalidate_cached("k", "root:ns") == 1
    assert await cache.invalidate_cached("k", "root:ns") == 0
    assert await cache.get_cached("k", "root:ns") is None
    assert await cache.invalidate_cached("never-stored") == 0
