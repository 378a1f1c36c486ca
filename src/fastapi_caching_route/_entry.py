"""The stored form of a response, shared by every backend."""

from __future__ import annotations

from typing import Any

from ._types import CachedResponse

RawHeaders = tuple[tuple[bytes, bytes], ...]
# (stored_at, initial_age, lifetime, unbounded, heuristic, no_cache,
# must_revalidate, stale_while_revalidate, stale_if_error): the engine's EntryTiming.
Timing = tuple[float, float, float, bool, bool, bool, bool, float, float]


class StoredResponse:
    """An immutable stored response.

    ``raw_headers`` is exactly what a hit sends before the engine adds
    ``Age`` and the cache-status field; it is a tuple, so nothing done while
    answering one request can change the next answer.

    ``vary`` names the request fields the response's own ``Vary`` lists
    (beyond those already in the key) and ``secondary`` holds their values in
    the request that stored it: the response answers only requests with the
    same values (RFC 9111 section 4.1).

    Its freshness (RFC 9111 section 4.2) is ``lifetime`` seconds from
    ``stored_at``, the response being ``initial_age`` seconds old then;
    ``unbounded`` entries are fresh until invalidated (a ``lifetime`` of 0
    means that unless ``unbounded=False`` is given). ``revalidate``
    (``no-cache``) entries are validated with the endpoint before every
    reuse; ``must_revalidate`` ones are never served stale.

    ``tags`` are its surrogate keys: ``backend.invalidate_tags(tags)``
    removes (or marks stale) every entry carrying one of them.
    """

    __slots__ = (
        "body",
        "heuristic",
        "initial_age",
        "last_modified",
        "lifetime",
        "media_type",
        "must_revalidate",
        "raw_headers",
        "revalidate",
        "secondary",
        "stale_if_error",
        "stale_while_revalidate",
        "status_code",
        "stored_at",
        "tags",
        "unbounded",
        "vary",
    )

    status_code: int
    raw_headers: RawHeaders
    body: bytes
    media_type: str | None
    stored_at: float  # Unix time the response was stored (for Age)
    last_modified: int  # Unix time of Last-Modified, -1 when there is none
    lifetime: float  # freshness lifetime in seconds (see unbounded)
    revalidate: bool  # Cache-Control: no-cache -- validated before every reuse
    initial_age: float  # how old the response was when stored (Age, Date)
    unbounded: bool  # fresh until invalidated
    must_revalidate: bool  # never served stale
    heuristic: bool  # the lifetime is a heuristic one
    stale_while_revalidate: float  # seconds it may be served stale while refreshed
    stale_if_error: float  # seconds it may be served stale when the endpoint fails
    vary: tuple[str, ...]  # the Vary names the response is selected by
    secondary: str  # their normalised values in the storing request
    tags: tuple[str, ...]  # surrogate keys, for invalidate_tags

    def __init__(
        self,
        status_code: int,
        raw_headers: RawHeaders,
        body: bytes,
        media_type: str | None,
        *,
        stored_at: float = 0.0,
        last_modified: int = -1,
        lifetime: float = 0.0,
        revalidate: bool = False,
        vary: tuple[str, ...] = (),
        secondary: str = "",
        initial_age: float = 0.0,
        unbounded: bool | None = None,
        must_revalidate: bool = False,
        heuristic: bool = False,
        stale_while_revalidate: float = 0.0,
        stale_if_error: float = 0.0,
        tags: tuple[str, ...] = (),
    ) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body
        self.media_type = media_type
        self.stored_at = stored_at
        self.last_modified = last_modified
        self.lifetime = lifetime
        self.revalidate = revalidate
        self.vary = vary
        self.secondary = secondary
        self.initial_age = initial_age
        self.unbounded = lifetime <= 0 if unbounded is None else unbounded
        self.must_revalidate = must_revalidate
        self.heuristic = heuristic
        self.stale_while_revalidate = stale_while_revalidate
        self.stale_if_error = stale_if_error
        self.tags = tags

    @property
    def timing(self) -> Timing:
        """The freshness fields as the engine takes them."""
        return (
            self.stored_at,
            self.initial_age,
            self.lifetime,
            self.unbounded,
            self.heuristic,
            self.revalidate,
            self.must_revalidate,
            self.stale_while_revalidate,
            self.stale_if_error,
        )

    @classmethod
    def from_timing(
        cls,
        status_code: int,
        raw_headers: RawHeaders,
        body: bytes,
        media_type: str | None,
        last_modified: int,
        timing: Timing,
        *,
        vary: tuple[str, ...] = (),
        secondary: str = "",
        tags: tuple[str, ...] = (),
    ) -> StoredResponse:
        """Build from the engine's timing tuple (see :attr:`timing`)."""
        stored_at, initial_age, lifetime, unbounded, heuristic, no_cache, must, swr, sie = timing
        return cls(
            status_code,
            raw_headers,
            body,
            media_type,
            stored_at=stored_at,
            last_modified=last_modified,
            lifetime=lifetime,
            revalidate=no_cache,
            vary=vary,
            secondary=secondary,
            initial_age=initial_age,
            unbounded=unbounded,
            must_revalidate=must,
            heuristic=heuristic,
            stale_while_revalidate=swr,
            stale_if_error=sie,
            tags=tags,
        )

    @property
    def etag(self) -> str:
        """The stored ETag ('' when there is none); read only for conditional requests."""
        return next((v.decode("latin-1") for k, v in self.raw_headers if k == b"etag"), "")

    @classmethod
    def from_cached_response(cls, value: CachedResponse) -> StoredResponse:
        """Build from the dictionary form that 0.6.0 stored (validating it)."""
        headers = tuple((_as_bytes(k).lower(), _as_bytes(v)) for k, v in value["raw_headers"])
        content = value["content"]
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TypeError("CachedResponse['content'] must be bytes")
        status = value["status_code"]
        if not isinstance(status, int) or isinstance(status, bool):
            raise TypeError("CachedResponse['status_code'] must be an int")
        metadata: dict[str, Any] = dict(value)  # our keys beyond 0.6.0's four
        return cls(
            status,
            headers,
            bytes(content),
            value.get("media_type"),
            stored_at=float(metadata.get("stored_at", 0.0)),
            last_modified=int(metadata.get("last_modified", -1)),
            lifetime=float(metadata.get("lifetime", 0.0)),
            revalidate=bool(metadata.get("revalidate", False)),
            vary=tuple(str(name) for name in metadata.get("vary", ())),
            secondary=str(metadata.get("secondary", "")),
            initial_age=float(metadata.get("initial_age", 0.0)),
            unbounded=metadata.get("unbounded"),
            must_revalidate=bool(metadata.get("must_revalidate", False)),
            heuristic=bool(metadata.get("heuristic", False)),
            stale_while_revalidate=float(metadata.get("stale_while_revalidate", 0.0)),
            stale_if_error=float(metadata.get("stale_if_error", 0.0)),
            tags=tuple(str(tag) for tag in metadata.get("tags", ())),
        )

    def to_cached_response(self) -> CachedResponse:
        """The dictionary form (a fresh copy each time; the entry stays unchanged).

        Holds 0.6.0's four keys plus our metadata, so 0.6.0 can read it too.
        """
        value: dict[str, object] = {
            "content": self.body,
            "media_type": self.media_type,
            "raw_headers": list(self.raw_headers),
            "status_code": self.status_code,
            "stored_at": self.stored_at,
            "last_modified": self.last_modified,
            "lifetime": self.lifetime,
            "revalidate": self.revalidate,
            "initial_age": self.initial_age,
            "unbounded": self.unbounded,
            "must_revalidate": self.must_revalidate,
            "heuristic": self.heuristic,
            "stale_while_revalidate": self.stale_while_revalidate,
            "stale_if_error": self.stale_if_error,
        }
        if self.vary:
            value["vary"] = list(self.vary)
            value["secondary"] = self.secondary
        if self.tags:
            value["tags"] = list(self.tags)
        return value  # type: ignore[return-value]


def without_age(headers: RawHeaders) -> RawHeaders:
    """The fields to store: Age is computed per hit, so a stored one would be
    stale and sent twice."""
    if not any(name == b"age" for name, _ in headers):
        return headers
    return tuple(field for field in headers if field[0] != b"age")


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("latin-1")
    raise TypeError(f"header names and values must be bytes or str, not {type(value).__name__}")
