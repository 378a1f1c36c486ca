"""What of a request a route's response depends on, read from its dependency tree.

The default key holds every input the route declares -- ``Query()``,
``Header()`` and ``Cookie()`` parameters of the endpoint and of all its
dependencies -- because any of them can change the response. Security schemes
read their credential outside the declared parameters; when the scheme's value
reaches the endpoint (``user = Depends(current_user)``), the response depends
on the caller, so requests carrying that credential must not share entries.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.security.api_key import APIKeyBase
from fastapi.security.base import SecurityBase
from pydantic import AliasChoices, BaseModel

from . import _core


@dataclass
class RouteInputs:
    """The declared request inputs of a route, as the key needs them."""

    query: list[_core.QueryParamSpec] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    all_query: bool = False
    all_headers: bool = False
    all_cookies: bool = False

    def key_spec(
        self, vary_headers: tuple[str, ...], *, by_coding: bool = False, br: bool = False
    ) -> _core.KeySpec:
        return _core.KeySpec(
            self.query,
            [*vary_headers, *self.headers],
            self.cookies,
            all_query=self.all_query,
            all_headers=self.all_headers,
            all_cookies=self.all_cookies,
            by_coding=by_coding,
            br_available=br,
        )


@dataclass
class Credentials:
    """Where the security schemes whose value reaches the endpoint read from."""

    headers: set[str] = field(default_factory=set)
    cookies: set[str] = field(default_factory=set)
    query: set[str] = field(default_factory=set)


def route_inputs(dependant: Dependant) -> RouteInputs:
    """Every query, header and cookie input the route declares, its dependencies' included."""
    inputs = RouteInputs()
    query_defaults: dict[str, list[str] | None] = {}
    shared_defaults: set[str] = set()
    for current in _walk(dependant):
        for param in current.query_params:
            names, default, required, extra = _names_of(param, header=False)
            inputs.all_query |= extra
            single = len(names) == 1
            for name in names:
                value = _defaults(default, required) if single else None
                if name in query_defaults and query_defaults[name] != value:
                    # Two declarations read one alias with different defaults: an
                    # absent parameter must then not share a key with an explicit
                    # value equal to either default.
                    value = None
                if not single:
                    # A field read under several names takes the first present one:
                    # an absent name must never pass for its default.
                    shared_defaults.add(name)
                query_defaults[name] = value
        for param in current.header_params:
            names, _, _, extra = _names_of(param, header=True)
            inputs.all_headers |= extra
            inputs.headers.extend(name for name in names if name not in inputs.headers)
        for param in current.cookie_params:
            names, _, _, extra = _names_of(param, header=False)
            inputs.all_cookies |= extra
            inputs.cookies.extend(name for name in names if name not in inputs.cookies)
    inputs.query = [
        _core.QueryParamSpec(name, None if name in shared_defaults else value)
        for name, value in query_defaults.items()
    ]
    return inputs


def identity_credentials(dependant: Dependant) -> Credentials:
    """Credentials of the security schemes whose value reaches the endpoint.

    A dependency's value reaches the endpoint when it is a named parameter of
    the endpoint or of a dependency whose value does (``user =
    Depends(current_user)``, ``current_user(token = Depends(oauth2))``). The
    route's ``dependencies=[...]`` pass no value on: a scheme used only there
    guards access and does not make the response per caller.
    """
    found = Credentials()
    stack = [sub for sub in dependant.dependencies if sub.name is not None]
    while stack:
        current = stack.pop()
        scheme = _scheme_of(current)
        if scheme is not None:
            _add_credential(found, scheme)
        stack.extend(sub for sub in current.dependencies if sub.name is not None)
    return found


def security_guards(dependant: Dependant) -> list[Dependant]:
    """The route's parameterless dependencies (``dependencies=[...]`` of the route
    and its routers) that use a security scheme: they guard access, so they
    run before a lookup too, or a hit would skip them."""
    return [
        sub
        for sub in dependant.dependencies
        if sub.name is None and any(_scheme_of(d) is not None for d in _walk(sub))
    ]


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    stack = [dependant]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.dependencies)


def _scheme_of(dependant: Dependant) -> SecurityBase | None:
    call: Any = dependant.call
    while isinstance(call, functools.partial):
        call = call.func
    call = getattr(call, "__wrapped__", call)
    return call if isinstance(call, SecurityBase) else None


def _add_credential(found: Credentials, scheme: SecurityBase) -> None:
    if isinstance(scheme, APIKeyBase):
        location = getattr(scheme.model.in_, "value", scheme.model.in_)
        name = scheme.model.name
        if location == "query":
            found.query.add(name)
        elif location == "cookie":
            found.cookies.add(name)
        else:
            found.headers.add(name.lower())
        return
    # HTTP Basic/Bearer/Digest, OAuth2, OpenID Connect -- and any custom scheme,
    # read conservatively -- carry the credential in Authorization.
    found.headers.add("authorization")


def _names_of(param: Any, *, header: bool) -> tuple[list[str], Any, bool, bool]:
    """(request names, default, required, reads undeclared members) of a parameter.

    The names are every name FastAPI may read the value under (alias,
    validation aliases, the field name when populating by name), a superset:
    keying on a name the request never uses only costs a little sharing.
    """
    info = param.field_info
    model = _model_of(getattr(info, "annotation", None))
    if model is not None:
        convert = header and getattr(info, "convert_underscores", True)
        names: list[str] = []
        for name, model_field in model.model_fields.items():
            names.extend(_field_names(name, model_field, header=header, convert=convert))
        extra = model.model_config.get("extra") in ("allow", "forbid")
        # A model's fields are never defaulted in the key: the model's own
        # default handling is richer than one value per name.
        return _unique(names), None, True, extra
    # FastAPI gives a plain parameter its request name as the alias (headers
    # already converted from underscores); a validation alias replaces it.
    names = [param.alias or param.name]
    validation = info.validation_alias
    if isinstance(validation, str):
        names.insert(0, validation)
    elif isinstance(validation, AliasChoices):
        names[:0] = [c for c in validation.choices if isinstance(c, str)]
    if header:
        names = [n.lower() for n in names]
    return _unique(names), param.default, info.is_required(), False


def _field_names(name: str, info: Any, *, header: bool, convert: bool) -> list[str]:
    candidates: list[str] = [name]
    if info.alias:
        candidates.append(info.alias)
    validation = info.validation_alias
    if isinstance(validation, str):
        candidates.append(validation)
    elif isinstance(validation, AliasChoices):
        candidates.extend(c for c in validation.choices if isinstance(c, str))
    if header:
        converted = [c.replace("_", "-") for c in candidates] if convert else []
        return _unique(c.lower() for c in (*candidates, *converted))
    return _unique(candidates)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            model = _model_of(arg)
            if model is not None:
                return model
    return None


def _unique(names: Any) -> list[str]:
    return list(dict.fromkeys(names))


def _defaults(default: Any, required: bool) -> list[str] | None:
    if required or default is None:
        return None
    if isinstance(default, (list, tuple, set, frozenset)):
        return [_text(v) for v in default]
    return [_text(default)]


def _text(value: Any) -> str:
    # The query string carries an enum's value, so the default must too for
    # an absent parameter and its explicit default to share one key.
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
