"""Early dependencies: guards that run before the lookup, on every request.

They are solved with FastAPI's own machinery (overrides, sub-dependencies,
``yield`` dependencies), so their errors -- validation errors included -- are
the response, exactly as for a dependency on the route; what they set on
their injected ``Response`` reaches the client and is never stored.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import solve_dependencies
from fastapi.exceptions import RequestValidationError

# What the early dependencies set on their injected Response for this
# request: (header fields, status code or None).
EARLY_RESPONSE_KEY = "fastapi_caching_route.early_response"


class EarlyDependencies:
    __slots__ = ("dependant", "overrides")

    def __init__(self, dependencies: list[Dependant], overrides: Any) -> None:
        self.dependant = Dependant(dependencies=dependencies)
        self.overrides = overrides

    async def run(self, request: Request) -> None:
        """Inside the route (FastAPI has set up its stacks): raises their errors."""
        async with AsyncExitStack() as stack:
            await self._solve(request, stack)

    async def run_before_routing(self, request: Request) -> None:
        """In the fast lane, before routing: the stacks FastAPI's
        request_response gives dependencies with ``yield`` are ours to make."""
        scope = request.scope
        async with AsyncExitStack() as request_stack:
            scope["fastapi_inner_astack"] = request_stack
            async with AsyncExitStack() as function_stack:
                scope["fastapi_function_astack"] = function_stack
                await self._solve(request, function_stack)

    async def _solve(self, request: Request, stack: AsyncExitStack) -> None:
        solved = await solve_dependencies(
            request=request,
            dependant=self.dependant,
            async_exit_stack=stack,
            embed_body_fields=False,
            dependency_overrides_provider=self.overrides,
        )
        if solved.errors:
            # As FastAPI answers for a dependency on the route: the guard's
            # input is missing or invalid, so the endpoint must not run.
            raise RequestValidationError(solved.errors)
        sub_response = solved.response
        extra = list(sub_response.raw_headers)
        if extra or sub_response.status_code:
            request.scope[EARLY_RESPONSE_KEY] = (extra, sub_response.status_code)


def merge_early_response(
    response: Response, extra: list[tuple[bytes, bytes]], status: int | None
) -> None:
    """As FastAPI merges what route dependencies set on their injected Response."""
    response.raw_headers.extend(extra)
    if status:
        response.status_code = status
