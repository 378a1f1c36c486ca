"""Responses the route sends: replayed hits and captured streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse


class ReplayResponse(Response):
    """A stored response sent as is: prebuilt raw headers, the stored body object.

    Skips ``Response.__init__`` (which would render the body and rebuild the
    headers); the header list is a fresh list per request, so middleware that
    edits it cannot reach the stored entry.
    """

    def __init__(
        self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body
        self.background = None


async def capture_stream(response: StreamingResponse, limit: int) -> bytes | None:
    """Read a streaming response's body for storing, keeping the stream for the client.

    Returns the whole body when it fits in ``limit`` bytes; the response then
    replays the captured chunks. A larger stream returns ``None`` and the
    response passes the captured chunks and the rest of the stream through,
    without buffering more.
    """
    iterator = response.body_iterator.__aiter__()
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            break
        data = _as_bytes(chunk, response.charset)
        chunks.append(data)
        size += len(data)
        if size > limit:
            response.body_iterator = _pass_through(chunks, iterator, response.charset)
            return None
    response.body_iterator = _replay(chunks)
    return b"".join(chunks)


def _as_bytes(chunk: Any, charset: str) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode(charset)
    return bytes(chunk)


async def _replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _pass_through(
    head: list[bytes], rest: AsyncIterator[Any], charset: str
) -> AsyncIterator[bytes]:
    head.reverse()  # pop() from the end hands each chunk over and frees it
    while head:
        yield head.pop()
    async for chunk in rest:
        yield _as_bytes(chunk, charset)
