"""Early dependencies: guards that run before the lookup, on every request.

They are solved with FastAPI's own machinery (overrides, sub-dependencies,
``yield`` dependencies), so their errors -- validation errors included -- are
the response, exactly as for a dependency on the route; what they set on
their injected ``Response`` reaches the client and is never stored.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args, solve_dependencies
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

# What the early dependencies set on their injected Response for this
# request: (header fields, status code or None).
EARLY_RESPONSE_KEY = "fastapi_caching_route.early_response"


class EarlyDependencies:
    __slots__ = ("calls", "dependant", "overrides", "plain")

    def __init__(self, dependencies: list[Dependant], overrides: Any) -> None:
        self.dependant = Dependant(dependencies=dependencies)
        self.overrides = overrides
        # Guards that are plain functions of the request's parameters (most
        # API-key and token checks) are called directly; anything else --
        # sub-dependencies, yield, an injected Response or BackgroundTasks --
        # goes through FastAPI's full solver.
        self.plain = all(_is_plain(d) for d in dependencies)
        self.calls = [d.call for d in dependencies]

    async def run(self, request: Request) -> None:
        """Inside the route (FastAPI has set up its stacks): raises their errors."""
        if self._plain_now():
            await self._call_plain(request)
            return
        async with AsyncExitStack() as stack:
            await self._solve(request, stack)

    async def run_before_routing(self, request: Request) -> None:
        """In the fast lane, before routing: the stacks FastAPI's
        request_response gives dependencies with ``yield`` are ours to make."""
        if self._plain_now():
            await self._call_plain(request)
            return
        scope = request.scope
        async with AsyncExitStack() as request_stack:
            scope["fastapi_inner_astack"] = request_stack
            async with AsyncExitStack() as function_stack:
                scope["fastapi_function_astack"] = function_stack
                await self._solve(request, function_stack)

    def _plain_now(self) -> bool:
        # An override replaces a dependency with one we have not looked at.
        overrides = getattr(self.overrides, "dependency_overrides", None)
        return self.plain and not (overrides and any(c in overrides for c in self.calls))

    async def _call_plain(self, request: Request) -> None:
        """What solve_dependencies does for a dependency without sub-dependencies:
        validate its query, header, cookie and path parameters (FastAPI's own
        request_params_to_args), then call it -- in the thread pool when it is
        a plain function, as FastAPI does."""
        errors: list[Any] = []
        called: set[int] = set()
        for dependant in self.dependant.dependencies:
            call: Any = dependant.call
            if dependant.use_cache and id(call) in called:
                continue  # FastAPI solves a repeated dependency once per request
            called.add(id(call))
            values: dict[str, Any] = {}
            failed = False
            for fields, received in (
                (dependant.path_params, request.path_params),
                (dependant.query_params, request.query_params),
                (dependant.header_params, request.headers),
                (dependant.cookie_params, request.cookies),
            ):
                if not fields:
                    continue
                found, field_errors = request_params_to_args(fields, received)
                values.update(found)
                if field_errors:
                    errors.extend(field_errors)
                    failed = True
            if failed:
                continue
            if dependant.request_param_name is not None:
                values[dependant.request_param_name] = request
            if _is_coroutine(call):
                await call(**values)
            else:
                await run_in_threadpool(call, **values)
        if errors:
            raise RequestValidationError(errors)

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


def _is_plain(dependant: Dependant) -> bool:
    call = dependant.call
    if call is None or dependant.dependencies or dependant.body_params:
        return False
    injected = (
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
        getattr(dependant, "http_connection_param_name", None),
        getattr(dependant, "websocket_param_name", None),
    )
    if any(name is not None for name in injected):
        return False
    return not _is_generator(call)


def _unwrapped(call: Any) -> Any:
    while isinstance(call, functools.partial):
        call = call.func
    return inspect.unwrap(call)


def _is_coroutine(call: Any) -> bool:
    call = _unwrapped(call)
    if inspect.isclass(call):
        return False  # constructed, as FastAPI does, whatever its __call__ is
    method = getattr(call, "__call__", None)  # noqa: B004 - an instance with async __call__
    return any(_coroutine_function(target) for target in (call, method))


def _coroutine_function(target: Any) -> bool:
    if inspect.iscoroutinefunction(target):
        return True
    # Python < 3.14: asyncio's check also honours the legacy _is_coroutine
    # marker, as FastAPI does on those versions.
    return sys.version_info < (3, 14) and asyncio.iscoroutinefunction(target)


def _is_generator(call: Any) -> bool:
    call = _unwrapped(call)
    method = getattr(call, "__call__", None)  # noqa: B004
    return any(
        check(target)
        for target in (call, method)
        for check in (inspect.isgeneratorfunction, inspect.isasyncgenfunction)
    )


def merge_early_response(
    response: Response, extra: list[tuple[bytes, bytes]], status: int | None
) -> None:
    """As FastAPI merges what route dependencies set on their injected Response."""
    response.raw_headers.extend(extra)
    if status:
        response.status_code = status
