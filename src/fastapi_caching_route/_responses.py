"""Responses the route sends: replayed hits, and streams stored while they are sent."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.background import BackgroundTask, BackgroundTasks
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse


class ReplayResponse(Response):
    """A stored response sent as is: prebuilt raw headers, the stored body object.

    Skips ``Response.__init__`` (which would render the body and rebuild the
    headers); the header list is a fresh list per request, so middleware that
    edits it cannot reach the stored entry.
    """

    def __init__(
        self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes | memoryview
    ) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body  # a Range hit sends a view of the stored bytes, not a copy
        self.background = None


def store_when_complete(
    response: StreamingResponse,
    request: Request,
    limit: int,
    store: Callable[[bytes], Awaitable[None]],
    too_large: Callable[[], None],
) -> None:
    """Stream the body to the client as it is produced, keeping a copy, and
    ``store`` the copy once the whole stream has reached the client.

    Stored only when the endpoint's iterator ended normally, the client had
    not disconnected by then, and every message was sent: the store runs as
    the response's first background task, which Starlette starts only after
    the last message went out. A stream larger than ``limit`` bytes is passed
    on without keeping more of it (``too_large`` is told once).
    """
    capture = _Capture(limit, too_large)
    response.body_iterator = capture.tee(response.body_iterator, response.charset, request)

    async def finish() -> None:
        if capture.complete:
            await store(b"".join(capture.chunks))

    tasks: list[Any] = [BackgroundTask(finish)]
    if response.background is not None:
        tasks.append(response.background)  # the endpoint's own tasks run after ours
    response.background = BackgroundTasks(tasks=tasks)


class _Capture:
    __slots__ = ("chunks", "complete", "limit", "size", "too_large")

    def __init__(self, limit: int, too_large: Callable[[], None]) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.complete = False
        self.too_large: Callable[[], None] | None = too_large

    async def tee(
        self, source: AsyncIterable[Any], charset: str, request: Request
    ) -> AsyncIterator[bytes]:
        async for chunk in source:
            data = _as_bytes(chunk, charset)
            if self.too_large is None:
                pass  # already over the limit: nothing more is kept
            elif self.size + len(data) > self.limit:
                self.chunks.clear()
                self.too_large()
                self.too_large = None
            else:
                self.chunks.append(data)
                self.size += len(data)
            yield data
        # The iterator ended normally; an endpoint that stops early because its
        # client left also ends normally, so ask whether the client is gone.
        self.complete = self.too_large is not None and not await request.is_disconnected()


def _as_bytes(chunk: Any, charset: str) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode(charset)
    return bytes(chunk)
