"""Revalidation with the endpoint (RFC 9111 section 4.3) and its failures (RFC 5861)."""

from __future__ import annotations

import time

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError

from . import _core
from ._entry import StoredResponse


def conditions_for(entry: StoredResponse, asked: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """The entry's validators as request fields (RFC 9111 section 4.3.1), unless
    the client sent conditions of its own, which are forwarded instead."""
    if b"if-none-match" in asked or b"if-modified-since" in asked:
        return []
    conditions: list[tuple[bytes, bytes]] = []
    if entry.etag:
        conditions.append((b"if-none-match", entry.etag.encode("latin-1")))
    if entry.last_modified >= 0:
        date = _core.format_http_date(entry.last_modified).encode("latin-1")
        conditions.append((b"if-modified-since", date))
    return conditions


def validates(entry: StoredResponse, not_modified: Response) -> bool:
    """Whether a 304 selects this entry (RFC 9111 section 4.3.3): its ETag, or
    else its Last-Modified, is the entry's; a 304 without validators selects
    the one entry asked about."""
    etag = not_modified.headers.get("etag")
    if etag is not None:
        return bool(entry.etag) and _core.if_none_match_matches(etag, entry.etag)
    last_modified = not_modified.headers.get("last-modified")
    if last_modified is not None:
        parsed = _core.parse_http_date(last_modified, int(time.time()))
        return parsed is not None and parsed == entry.last_modified
    return True


def set_request_headers(request: Request, fields: list[tuple[bytes, bytes]]) -> None:
    request.scope["headers"] = fields
    request.__dict__.pop("_headers", None)  # Starlette caches the parsed headers


def server_error(exc: Exception) -> bool:
    """Whether an endpoint's exception is the server failing (RFC 5861 section
    4: "500, 502, 503, or 504"), not an answer to a bad request."""
    if isinstance(exc, RequestValidationError):
        return False
    status = getattr(exc, "status_code", None)
    return not isinstance(status, int) or status >= 500
