"""Validated per-route settings attached to an endpoint by ``@cache(...)``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.dependencies.utils import get_dependant
from fastapi.params import Depends

from ._types import CacheParamsBase, KeyBuilder, TagsBuilder

if TYPE_CHECKING:
    from ._cache import FastAPICache

# The attribute that marks an endpoint as cached (the name 0.6.0 used).
CACHE_CONFIG_ATTR = "__fastapi_caching_route_87233d36__"


@dataclass(frozen=True, slots=True)
class RouteCacheConfig:
    cache: FastAPICache
    key_builder: KeyBuilder | None
    early_dependencies: tuple[Depends, ...]
    vary_headers: tuple[str, ...]
    params: CacheParamsBase
    shared: bool = False
    ignore_response_cache_control: bool = False
    store_set_cookie: bool = False
    client_max_age: int | None = None
    set_last_modified: bool = True
    honor_request_cache_control: bool = False
    # Methods answered from and stored in the cache; empty: every method of
    # the route (0.6.0). HEAD is served from the GET entry either way.
    cached_methods: frozenset[str] = frozenset()
    # RFC 5861 windows of the route; None: the cache's, else the response's.
    stale_while_revalidate: float | None = None
    stale_if_error: float | None = None
    # Store the body once per content coding (None: the cache's default).
    compress: bool | None = None
    # Hits answered by the edge lane, before the app's middleware (cache.edge(app)).
    edge: bool = False
    # Static tags, or a function of the request returning them.
    tags: tuple[str, ...] | TagsBuilder = ()


def validate_ttl(ttl: object) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"ttl must be a number of seconds or None, not {type(ttl).__name__}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return float(ttl)


def validate_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__}")
    return value


def validate_max_age(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of seconds or None")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def validate_header_names(name: str, headers: object) -> tuple[str, ...]:
    """Lower-cased, de-duplicated header names; rejects a bare string or blanks."""
    if isinstance(headers, (str, bytes)) or not isinstance(headers, Sequence):
        raise TypeError(f"{name} must be a sequence of header names, e.g. ('accept',)")
    result: dict[str, None] = {}
    for header in headers:
        if not isinstance(header, str):
            raise TypeError(f"{name} must contain str header names, not {type(header).__name__}")
        cleaned = header.strip().lower()
        if not cleaned or not _is_token(cleaned):
            raise ValueError(f"{name} contains an invalid header name: {header!r}")
        result[cleaned] = None
    return tuple(result)


def validate_dependencies(dependencies: object) -> tuple[Depends, ...]:
    if isinstance(dependencies, (str, bytes)) or not isinstance(dependencies, Sequence):
        raise TypeError("dependencies must be a sequence of Depends(...)")
    for dependency in dependencies:
        if not isinstance(dependency, Depends):
            raise TypeError(
                f"dependencies must contain Depends(...) objects, not {type(dependency).__name__}"
            )
        if dependency.dependency is None or not callable(dependency.dependency):
            raise TypeError("each early dependency must be Depends(<callable>)")
        body_param = _body_param_of(dependency.dependency)
        if body_param is not None:
            name = getattr(dependency.dependency, "__name__", repr(dependency.dependency))
            raise TypeError(
                f"dependencies: {name} reads the request body (parameter {body_param!r}), but "
                "early dependencies run before the body is read, so every request would get "
                "a 422; let it read query, header, cookie or path parameters instead"
            )
    return tuple(dependencies)


def _body_param_of(call: Callable[..., Any]) -> str | None:
    """The first body, form or file parameter of a guard or of its
    sub-dependencies, as FastAPI would read them; None when it has none."""
    try:
        pending = [get_dependant(path="", call=call)]
    except Exception:  # FastAPI will report what it cannot read when the route runs
        return None
    while pending:
        dependant = pending.pop()
        if dependant.body_params:
            return dependant.body_params[0].alias
        pending.extend(dependant.dependencies)
    return None


def validate_methods(methods: object) -> frozenset[str]:
    if methods is None:
        return frozenset()
    if isinstance(methods, (str, bytes)) or not isinstance(methods, Sequence | set | frozenset):
        raise TypeError("cached_methods must be a collection of method names, e.g. ('GET',)")
    result = set()
    for method in methods:
        if not isinstance(method, str) or not method or not _is_token(method):
            raise ValueError(f"cached_methods contains an invalid method: {method!r}")
        result.add(method.upper())
    if not result:
        raise ValueError("cached_methods must not be empty; pass None for every method")
    return frozenset(result)


def validate_tags(tags: object) -> tuple[str, ...] | TagsBuilder:
    if tags is None:
        return ()
    if callable(tags):
        return tags
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Sequence | set | frozenset):
        raise TypeError("tags must be a sequence of str or a function of the request")
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tags must be non-empty str, got {tag!r}")
    return tuple(dict.fromkeys(tags))


def validate_namespace(namespace: object) -> str | None:
    if namespace is None:
        return None
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str or None, not {type(namespace).__name__}")
    if not namespace:
        raise ValueError("namespace must not be empty; pass None for the root namespace")
    return namespace


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _is_token(value: str) -> bool:
    return all(c in _TOKEN_CHARS for c in value)


def is_header_token(value: str) -> bool:
    """Whether ``value`` is a valid header field name (RFC 9110 token)."""
    return bool(value) and _is_token(value)
