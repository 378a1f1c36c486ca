"""Public typing names (the ones release 0.6.0 documented) and shared constants."""

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.params import Depends
from starlette.status import HTTP_200_OK
from typing_extensions import NotRequired, TypedDict

KeyBuilder = Callable[[Request], str]
"""Builds the cache key of a request (a custom ``key_builder``)."""

RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]
"""What ``APIRoute.get_route_handler`` returns."""

TagsBuilder = Callable[[Request], Iterable[str] | Awaitable[Iterable[str]]]
"""Computes the tags (surrogate keys) of a request's stored response."""


DEFAULT_ACCEPTED_STATUS_CODES: frozenset[int] = frozenset({HTTP_200_OK})


class CacheParamsBase(TypedDict):
    """Storage parameters of a route: its namespace and time to live (seconds)."""

    namespace: NotRequired[str | None]
    ttl: NotRequired[float]


class CacheParams(CacheParamsBase):
    """Every parameter the ``@cache(...)`` decorator accepts in 0.6.0."""

    key_builder: NotRequired[KeyBuilder]
    dependencies: NotRequired[Sequence[Depends]]
    vary_headers: NotRequired[Sequence[str]]


class CachedResponse(TypedDict):
    """A stored response as ``get_cached``/``set_cached`` exchange it."""

    content: bytes
    media_type: str | None
    raw_headers: list[tuple[bytes, bytes]]
    status_code: int
