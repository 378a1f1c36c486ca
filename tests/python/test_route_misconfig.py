"""Misconfiguration raises ValueError/TypeError naming the parameter when the
cache, backend or decorator is created -- never later, at request time."""

import re
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from conftest import MakeCache, caching_router
from fastapi import Body, Depends, Header

from fastapi_caching_route import MemoryBackend


def _case_ids(cases: list[tuple[str, type[Exception], dict[str, Any]]]) -> list[str]:
    # The same on every run, unlike a repr that shows a function's address:
    # mutmut lists the tests once and runs them later by their ids.
    return [f"{name}-{number}" for number, (name, _, _) in enumerate(cases)]


# (parameter named in the message, exception, decorator keyword arguments)
DECORATOR_CASES: list[tuple[str, type[Exception], dict[str, Any]]] = [
    ("ttl", ValueError, {"ttl": 0}),
    ("ttl", ValueError, {"ttl": -1}),
    ("ttl", ValueError, {"ttl": float("nan")}),
    ("ttl", ValueError, {"ttl": float("inf")}),
    ("ttl", TypeError, {"ttl": "10"}),
    ("ttl", TypeError, {"ttl": True}),
    ("key_builder", TypeError, {"key_builder": 42}),
    ("key_builder", TypeError, {"key_builder": "module.func"}),
    ("vary_headers", ValueError, {"vary_headers": [""]}),
    ("vary_headers", ValueError, {"vary_headers": ["  "]}),
    ("vary_headers", ValueError, {"vary_headers": ["bad header"]}),
    ("vary_headers", ValueError, {"vary_headers": ["x-ok", "bad:colon"]}),
    ("vary_headers", TypeError, {"vary_headers": "accept"}),
    ("vary_headers", TypeError, {"vary_headers": [b"accept"]}),
    ("shared", TypeError, {"shared": "yes"}),
    ("shared", TypeError, {"shared": 1}),
    ("ignore_response_cache_control", TypeError, {"ignore_response_cache_control": "true"}),
    ("store_set_cookie", TypeError, {"store_set_cookie": None}),
    ("set_last_modified", TypeError, {"set_last_modified": 0}),
    ("honor_request_cache_control", TypeError, {"honor_request_cache_control": "no"}),
    ("client_max_age", ValueError, {"client_max_age": -1}),
    ("client_max_age", TypeError, {"client_max_age": 1.5}),
    ("client_max_age", TypeError, {"client_max_age": "60"}),
    ("namespace", ValueError, {"namespace": ""}),
    ("dependencies", TypeError, {"dependencies": [lambda: None]}),
]


@pytest.mark.parametrize(
    ("name", "error", "kwargs"), DECORATOR_CASES, ids=_case_ids(DECORATOR_CASES)
)
def test_decorator_misconfiguration_raises_at_creation(
    make_cache: MakeCache, name: str, error: type[Exception], kwargs: dict[str, Any]
) -> None:
    cache = make_cache()
    with pytest.raises(error, match=name):
        cache(**kwargs)


# (parameter named in the message, exception, FastAPICache keyword arguments)
CACHE_CASES: list[tuple[str, type[Exception], dict[str, Any]]] = [
    ("namespace_policy", ValueError, {"namespace_policy": "x"}),
    ("namespace_policy", ValueError, {"namespace_policy": None}),
    ("cache_header", ValueError, {"cache_header": ""}),
    ("cache_header", ValueError, {"cache_header": "X Cache"}),
    ("cache_header_hit", ValueError, {"cache_header_hit": "HIT\r\nx: y"}),
    ("max_body_bytes", ValueError, {"max_body_bytes": 0}),
    ("max_body_bytes", ValueError, {"max_body_bytes": -1}),
    ("max_body_bytes", TypeError, {"max_body_bytes": 1.5}),
    ("max_key_length", ValueError, {"max_key_length": 0}),
    ("max_key_length", TypeError, {"max_key_length": "8k"}),
    ("accepted_status_codes", ValueError, {"accepted_status_codes": {99}}),
    ("accepted_status_codes", ValueError, {"accepted_status_codes": {200, 600}}),
    ("accepted_status_codes", TypeError, {"accepted_status_codes": 200}),
    ("fast_lane", TypeError, {"fast_lane": "off"}),
]


@pytest.mark.parametrize(("name", "error", "kwargs"), CACHE_CASES, ids=_case_ids(CACHE_CASES))
def test_cache_misconfiguration_raises_at_creation(
    make_cache: MakeCache, name: str, error: type[Exception], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(error, match=name):
        make_cache(**kwargs)


BACKEND_CASES: list[tuple[str, type[Exception], Callable[[], object]]] = [
    ("max_bytes", ValueError, lambda: MemoryBackend(max_bytes=0)),
    ("max_bytes", ValueError, lambda: MemoryBackend(max_bytes=-1)),
    ("max_bytes", TypeError, lambda: MemoryBackend(max_bytes=1.0)),  # type: ignore[arg-type]
    ("max_entries", ValueError, lambda: MemoryBackend(max_entries=-1)),
    ("shards", ValueError, lambda: MemoryBackend(shards=0)),
    ("namespace", TypeError, lambda: MemoryBackend(namespace=1)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("name", "error", "create"), BACKEND_CASES, ids=range(len(BACKEND_CASES)))
def test_backend_misconfiguration_raises_at_creation(
    name: str, error: type[Exception], create: Callable[[], object]
) -> None:
    with pytest.raises(error, match=name):
        create()


def test_a_valid_configuration_is_accepted(make_cache: MakeCache) -> None:
    cache = make_cache(max_body_bytes=1, max_key_length=1, accepted_status_codes={100, 599})
    router = caching_router()
    decorator = cache(
        ttl=0.001,
        vary_headers=["Accept", "x-tenant"],
        shared=False,
        client_max_age=0,
        ignore_response_cache_control=True,
        store_set_cookie=True,
        set_last_modified=False,
        honor_request_cache_control=True,
    )

    def endpoint() -> str:
        return "ok"

    assert decorator(router.get("/ok")(endpoint)) is endpoint


def _body_guard(token: Annotated[str, Body()]) -> None: ...


def _guard_over_a_body_guard(_: Annotated[None, Depends(_body_guard)]) -> None: ...


class _BodyGuardClass:
    def __init__(self, payload: Annotated[dict[str, str], Body()]) -> None: ...


def _header_guard(x_api_key: Annotated[str, Header()]) -> None: ...


@pytest.mark.parametrize(
    ("guard", "named"),
    [
        (_body_guard, "_body_guard reads the request body (parameter 'token')"),
        (_guard_over_a_body_guard, "_guard_over_a_body_guard reads the request body"),
        (_BodyGuardClass, "_BodyGuardClass reads the request body (parameter 'payload')"),
    ],
)
def test_an_early_dependency_reading_the_body_is_refused_at_decoration(
    make_cache: MakeCache, guard: Callable[..., Any], named: str
) -> None:
    # Early dependencies run before the body is read: such a guard would
    # answer 422 to every request, so the decorator says so at once.
    cache = make_cache()
    with pytest.raises(TypeError, match=re.escape(named)):
        cache(dependencies=[Depends(guard)])
    assert cache(dependencies=[Depends(_header_guard)]) is not None
