"""The C++ engine of fastapi-caching-route (store, keys, HTTP rules)."""

from collections.abc import MutableMapping, Sequence
from typing import Any


class Store:
    """
    Sharded, bounded in-process store keyed by (namespace id, canonical key).
    """

    def __init__(self, max_bytes: int, max_entries: int = 0, shards: int = 16, policy: str = 's3fifo') -> None: ...

    def namespace_id(self, name: str) -> int:
        """Id of a namespace, created on first use."""

    def put(self, ns: int, key: str, value: object, charge: int, ttl: float) -> bool:
        """
        Store any object under `key`; `ttl` <= 0 never expires. False if it cannot fit.
        """

    def get(self, ns: int, key: str) -> Any:
        """The object stored by put() itself, or None."""

    def put_response(self, ns: int, key: str, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, media_type: str | None, etag: str, etag_index: int, last_modified: int, timing: tuple[float, float, float, bool, bool, bool, bool, float, float], charge: int, ttl: float, tags: Sequence[str] = ()) -> bool:
        """
        Store a response for the hit path; `headers` must not contain ETag or Age. `tags` (at most 1024) index it for invalidate_tags(); the store charges their bytes.
        """

    def put_variant(self, ns: int, key: str, names: Sequence[str], secondary: str, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, media_type: str | None, etag: str, etag_index: int, last_modified: int, timing: tuple[float, float, float, bool, bool, bool, bool, float, float], charge: int, ttl: float, max_variants: int, tags: Sequence[str] = ()) -> tuple[bool, int]:
        """
        Store a response as the variant of `key` for the request whose values of the Vary `names` are `secondary`; returns (stored, variants dropped by `max_variants`). The key is indexed by the tags of every variant it keeps.
        """

    def get_response(self, ns: int, key: str, headers: Sequence[tuple[bytes, bytes]] | None = None, count: bool = True) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes, str | None, str, int, int, tuple[float, float, float, bool, bool, bool, bool, float, float]] | None:
        """
        (status, headers, body, media_type, etag, etag_index, last_modified, timing) of a stored response, or None; of a Vary'd key, the variant the request header fields `headers` select (None: a request without them). `count=False` reads without counting a hit or miss or touching the eviction policy.
        """

    def get_entry(self, ns: int, key: str, headers: Sequence[tuple[bytes, bytes]] | None = None, count: bool = True) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes, str | None, str, int, int, tuple[float, float, float, bool, bool, bool, bool, float, float], tuple[str, ...], tuple[str, ...], str] | None:
        """
        get_response() and the response's tags, then the Vary names and the secondary key of the variant (() and '' for a key stored without Vary).
        """

    def invalidate_tags(self, ns: int, tags: Sequence[str], soft: bool = False, now: float | None = None, keep: float = 300.0) -> int:
        """
        Remove (or, `soft`, mark stale at `now`, Unix time, default the current time) the entries of namespace `ns` carrying any of `tags`; returns how many responses they held (each variant of a Vary'd key counts; entries stale already count too). Soft: each fresh response's freshness ends now, its stale windows kept, and the store keeps it at most store_ttl(its new timing, now, keep) seconds more. Visits each shard once, touching only the entries carrying the tags.
        """

    def erase(self, ns: int, key: str) -> int:
        """Remove one key; returns the number of entries removed (0 or 1)."""

    def clear(self, ns: int) -> int:
        """Drop a namespace in O(1); returns how many entries it had."""

    def clear_all(self) -> int:
        """Drop everything; returns the count removed."""

    def sweep(self, budget: int) -> int:
        """Reclaim up to `budget` expired entries per shard."""

    def stats(self) -> dict[str, int]:
        """Counters and sizes."""

def stale_timing(timing: tuple[float, float, float, bool, bool, bool, bool, float, float], now: float) -> tuple[float, float, float, bool, bool, bool, bool, float, float] | None:
    """
    The timing of an entry made stale at `now` by a soft tag invalidation (its lifetime ends at its current age, unbounded no more, stale windows kept), or None when it is stale already.
    """

class QueryParamSpec:
    """
    A declared query parameter: alias and default values (None for a None default).
    """

    def __init__(self, alias: str, defaults: Sequence[str] | None) -> None: ...

    @property
    def alias(self) -> str: ...

    @property
    def defaults(self) -> list[str] | None: ...

class KeySpec:
    """Canonical-key builder for one route."""

    def __init__(self, params: Sequence[QueryParamSpec], vary_headers: Sequence[str], cookies: Sequence[str] = [], all_query: bool = False, all_headers: bool = False, all_cookies: bool = False, by_coding: bool = False, br_available: bool = False) -> None:
        """
        `params`: declared query parameters; `vary_headers`: header names in the key (declared header parameters and the route's vary_headers); `cookies`: declared cookie names; `all_*`: every member of that part (a parameter model that reads undeclared members); `by_coding`: the key ends with the content coding the request's Accept-Encoding gets (' enc=br|gzip|identity').
        """

    def from_scope(self, scope: MutableMapping[str, Any], method: str | None = None) -> str:
        """
        Canonical key of the request described by an ASGI HTTP scope; `method` replaces the scope's (HEAD is answered from the GET entry).
        """

    def canonical(self, method: str, path: str, query_string: bytes, headers: Sequence[tuple[bytes, bytes]]) -> str:
        """
        Canonical key from request parts (headers: sequence of (bytes, bytes)).
        """

    @property
    def params(self) -> list[QueryParamSpec]: ...

    @property
    def vary_headers(self) -> list[str]: ...

    @property
    def cookies(self) -> list[str]: ...

class CredentialSpec:
    """Credentials whose presence sends a request past the cache."""

    def __init__(self, headers: Sequence[str] = [], cookies: Sequence[str] = [], query: Sequence[str] = []) -> None: ...

    def carried_by(self, scope: MutableMapping[str, Any]) -> bool:
        """Whether the request of an ASGI scope carries one of the credentials."""

    @property
    def headers(self) -> list[str]: ...

    @property
    def cookies(self) -> list[str]: ...

    @property
    def query(self) -> list[str]: ...

def key_digest(key: str) -> str:
    """
    The stable 128-bit digest of a canonical key, as 32 hex digits (shared-store keys).
    """

def preferred_coding(accept_encoding: str | None, br_available: bool) -> str:
    """
    'br', 'gzip' or 'identity': the coding a request with this Accept-Encoding (None: absent) gets (RFC 9110 section 12.5.3).
    """

def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    """Decode a raw query string exactly as Starlette's QueryParams does."""

def etag_for_body(body: bytes) -> str:
    """Strong ETag (quoted hex of a 128-bit hash) for a response body."""

def if_none_match_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of an If-None-Match field value against an ETag."""

def parse_vary(value: str) -> tuple[bool, list[str]]:
    """(star, names): a Vary value's names lower-cased and de-duplicated."""

def merge_vary(existing: str, extra: Sequence[str]) -> str:
    """Merge names into a Vary value; '' when nothing is to be sent."""

def answers_range_request(status: int) -> bool:
    """
    Whether a stored response with this status may answer a Range request (a 200).
    """

def secondary_names(vary_lines: Sequence[str], in_primary_key: Sequence[str]) -> tuple[bool, list[str]]:
    """
    (star, names) of a response's Vary field lines: the names a stored response must be matched on (lower-cased, de-duplicated), minus those already in the primary key.
    """

def secondary_key(names: Sequence[str], headers: Sequence[tuple[bytes, bytes]]) -> str:
    """
    The normalised values of `names` in request header fields (RFC 9111 section 4.1).
    """

class HitPath:
    """Answers hits of one route from the native store in a single call."""

    def __init__(self, store: Store, ns: int, key_spec: KeySpec, credentials: CredentialSpec, hit_header: tuple[bytes, bytes], honor_request_cache_control: bool, max_key_length: int, cache_status: bytes | None = None, stale_header: tuple[bytes, bytes] | None = None) -> None: ...

    def answer(self, scope: MutableMapping[str, Any], now: float) -> tuple[int, list[tuple[bytes, bytes]], bytes] | tuple[int, list[tuple[bytes, bytes]], bytes, str] | str | None:
        """
        A hit as (status, headers, body) -- with the key as a fourth member when it is a stale answer to refresh; the key (str) when nothing is stored; None when the route must decide (credentials, key length, request directives, an entry that is not fresh).
        """

    def lookup(self, key: str, method: str, if_none_match: str | None, if_modified_since: str | None, range: str | None, if_range: str | None, head: bool, now: float, headers: Sequence[tuple[bytes, bytes]] | None, request_cache_control: str | None = None, request_pragma: str | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes | memoryview] | tuple[int, list[tuple[bytes, bytes]], bytes | memoryview, bool] | str | None:
        """
        A hit as (status, headers, body) for a known key -- with True as a fourth member when it is a stale answer (stale-while-revalidate) to refresh; None when nothing is stored; the reuse decision ('revalidate', 'stale_while_revalidate', 'miss') of an entry that is stored but cannot be answered as it is. The request's Cache-Control (or Pragma), when given, limits what it accepts (RFC 9111 section 5.2.1).
        """

def replay(status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, etag: str, last_modified: int, age: float, ttl_left: float, method: str, if_none_match: str | None, if_modified_since: str | None, range: str | None, if_range: str | None, head: bool, now: float, hit_header: tuple[bytes, bytes], cache_status: bytes | None, stale: bool = False) -> tuple[int, list[tuple[bytes, bytes]], bytes | memoryview]:
    """
    What a hit of a stored response sends (a 304 when the conditions say so, a 206/416 for a Range request on a 200), for stores outside the engine; the ETag is among `headers`.
    """

class CacheControl:
    """Parsed Cache-Control directives; numeric ones are None when absent."""

    @property
    def no_store(self) -> bool: ...

    @property
    def no_cache(self) -> bool: ...

    @property
    def private(self) -> bool: ...

    @property
    def public(self) -> bool: ...

    @property
    def must_revalidate(self) -> bool: ...

    @property
    def proxy_revalidate(self) -> bool: ...

    @property
    def immutable(self) -> bool: ...

    @property
    def max_age(self) -> int | None: ...

    @property
    def s_maxage(self) -> int | None: ...

    @property
    def stale_while_revalidate(self) -> int | None: ...

    @property
    def stale_if_error(self) -> int | None: ...

def parse_cache_control(value: str) -> CacheControl:
    """
    Parse a Cache-Control field value; never fails (malformed members are skipped).
    """

def decide_storage(cache_control: str, has_set_cookie: bool, route_ttl: float, ignore_response_cache_control: bool, store_set_cookie: bool, request_has_authorization: bool = False, shared_authorization_rules: bool = False) -> tuple[str, float, bool, float, float]:
    """
    (verdict, ttl, revalidate, stale_while_revalidate, stale_if_error) for a response.

    verdict is 'store', 'no_store', 'private', 'authorization', 'set_cookie' or 'zero_lifetime'; ttl 0 means the response set no lifetime and the route no ttl. With both Authorization flags (RFC 9111 section 3.5, shared mode), a response to a request with Authorization is stored only if it says public, s-maxage or must-revalidate.
    """

def request_directives(cache_control: str | None, pragma: str | None) -> tuple[bool, bool]:
    """
    (bypass_lookup, skip_store) from a request's Cache-Control and Pragma (None: absent).
    """

def parse_http_date(value: str, now: int) -> int | None:
    """
    Seconds since the epoch of an HTTP-date in any of its three formats, or None.
    """

def format_http_date(epoch: int) -> str:
    """IMF-fixdate for seconds since the epoch (clamped to years 0000-9999)."""

def is_not_modified(method: str, if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: int, now: int) -> bool:
    """
    Whether a GET/HEAD hit is answered 304 (RFC 9110 section 13.2.2). None: header absent; last_modified < 0: the entry has no Last-Modified.
    """

def age_seconds(stored_at: float, now: float) -> int:
    """Age header value: whole seconds since stored_at, never negative."""

def encode_response(key: str, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes, media_type: str | None, stored_at: float, last_modified: int, lifetime: float, revalidate: bool, tags: Sequence[str] = (), vary: Sequence[str] = (), secondary: str = '', vary_index: bool = False, initial_age: float = 0.0, stale_while_revalidate: float = 0.0, stale_if_error: float = 0.0, unbounded: bool = False, must_revalidate: bool = False, heuristic: bool = False) -> bytes:
    """
    A response in the versioned binary entry format of shared stores; `vary` and `secondary` make it the variant of `key` for one request (RFC 9111 section 4.1); `vary_index` marks a record that only names the Vary fields of `key`'s variants. Raises ValueError for what could not be decoded back (status outside 100..999, more than 1024 header fields or tags, more than 256 Vary names).
    """

def decode_response(data: bytes, key: str, secondary: str | None = None) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes, str | None, float, int, float, bool, tuple[str, ...], tuple[str, ...], str, bool, tuple[float, float, float, bool, bool, bool]] | None:
    """
    (status, headers, body, media_type, stored_at, last_modified, lifetime, revalidate, tags, vary, secondary, vary_index, (initial_age, stale_while_revalidate, stale_if_error, unbounded, must_revalidate, heuristic)) of an entry encoded by encode_response() for `key`; None when `data` is malformed, corrupt, of another format version, stored for another key, or (with `secondary`) a variant for another request.
    """

def entry_timing(cache_control: str, expires: str | None, date: str | None, age: str | None, last_modified: str | None, status: int, response_time: float, route_ttl: float, ignore_response_cache_control: bool, shared_cache_freshness: bool, heuristic: bool, heuristic_max: float, stale_while_revalidate: float = -1.0, stale_if_error: float = -1.0) -> tuple[float, float, float, bool, bool, bool, bool, float, float]:
    """
    The freshness of a response with these fields (RFC 9111 section 4.2): (stored_at, initial_age, lifetime, unbounded, heuristic, no_cache, must_revalidate, stale_while_revalidate, stale_if_error). The route's stale windows, when >= 0, replace the response's (RFC 5861).
    """

def decide_reuse(timing: tuple[float, float, float, bool, bool, bool, bool, float, float], now: float, has_validator: bool, request_cache_control: str | None = None, request_pragma: str | None = None) -> tuple[str, float, float]:
    """
    (reuse, age, ttl_left): 'fresh', 'stale_while_revalidate', 'revalidate' or 'miss' for an entry with this timing at `now`, its current age and the seconds of freshness left. The request's Cache-Control (or, without it, its Pragma), when given, limits what it accepts (RFC 9111 section 5.2.1: no-cache, max-age, min-fresh, max-stale).
    """

def store_ttl(timing: tuple[float, float, float, bool, bool, bool, bool, float, float], now: float, keep: float) -> float:
    """
    Seconds the store keeps an entry: until stale plus `keep`; 0 when it never expires.
    """

def worth_storing(timing: tuple[float, float, float, bool, bool, bool, bool, float, float], has_validator: bool) -> bool:
    """
    Whether a response with this timing can ever answer a request (fresh or within a stale window on arrival, or revalidatable).
    """

def serves_stale_on_error(timing: tuple[float, float, float, bool, bool, bool, bool, float, float], now: float) -> bool:
    """
    Whether a stale entry may answer when the endpoint fails (RFC 5861 stale-if-error).
    """

def storable_fields(fields: tuple[tuple[bytes, bytes], ...]) -> tuple[tuple[bytes, bytes], ...]:
    """
    The fields without those a cache must not store (hop-by-hop, Connection-listed, proxy authentication).
    """

def refreshed_fields(stored: tuple[tuple[bytes, bytes], ...], fresh: tuple[tuple[bytes, bytes], ...]) -> tuple[tuple[bytes, bytes], ...]:
    """The stored fields updated by a 304's (RFC 9111 section 4.3.4)."""
