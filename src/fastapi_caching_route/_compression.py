"""Bodies stored once per content coding (RFC 9110 section 8.4).

A response of a ``compress=True`` route is stored as identity, gzip and (with
the ``brotli`` package) br entries, under keys that end with the coding (the
engine reduces Accept-Encoding to those three names, so clients never
fragment the cache). Each client gets the coding it prefers, compressed once
at the miss, never again on a hit -- nor by ``GZipMiddleware``, which leaves
responses with a ``Content-Encoding`` alone.
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable

from ._entry import RawHeaders

BROTLI = importlib.util.find_spec("brotli") is not None

# Smaller bodies gain little and pay the Content-Encoding header.
MIN_BYTES = 512

_COMPRESSIBLE = ("text/", "application/json", "application/javascript", "application/xml")
_COMPRESSIBLE_SUFFIXES = ("+json", "+xml")


def _gzip(body: bytes) -> bytes:
    # mtime=0: the same body always gives the same bytes (one ETag per coding).
    return gzip.compress(body, compresslevel=6, mtime=0)


def _brotli(body: bytes) -> bytes:
    import brotli

    compressed: bytes = brotli.compress(body, quality=5)
    return compressed


CODERS: dict[str, Callable[[bytes], bytes]] = {"gzip": _gzip}
if BROTLI:
    CODERS["br"] = _brotli


def compressible(content_type: str | None, encoding: str | None, size: int) -> bool:
    """Whether a body is worth storing compressed: not already encoded, big
    enough, and of a media type that compresses."""
    if encoding is not None or size < MIN_BYTES or content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(_COMPRESSIBLE) or media.endswith(_COMPRESSIBLE_SUFFIXES)


def coded_fields(fields: RawHeaders, coding: str, length: int, etag: str) -> RawHeaders:
    """The stored fields of the `coding` entry: its Content-Encoding and
    Content-Length, and a weak ETag of its own (RFC 9110 section 8.8.3: the
    coded representation is another one)."""
    kept = tuple(f for f in fields if f[0] not in (b"content-length", b"etag"))
    opaque = etag.removeprefix("W/").strip('"')
    return (
        *kept,
        (b"content-encoding", coding.encode("ascii")),
        (b"content-length", b"%d" % length),
        (b"etag", f'W/"{opaque}-{coding}"'.encode("latin-1")),
    )


def coding_of(key: str) -> tuple[str, str]:
    """(the key without its coding, the coding) of a by-coding key."""
    base, _, coding = key.rpartition(" enc=")
    return base, coding
