"""The default cache key: what of a request the key is built from."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from . import _core


def declared_query_params(dependant: Dependant) -> list[_core.QueryParamSpec]:
    """Every query parameter the route declares, its dependencies' included.

    A dependency's parameters (pagination, filters) change the response just
    like the endpoint's own, so they are part of the key.
    """
    defaults: dict[str, list[str] | None] = {}
    stack = [dependant]
    while stack:
        current = stack.pop()
        for field in current.query_params:
            for alias, default, required in _expand(field):
                value = _defaults(default, required)
                if alias in defaults and defaults[alias] != value:
                    # Two declarations read one alias with different defaults: an
                    # absent parameter must then not share a key with an explicit
                    # value equal to either default.
                    value = None
                defaults[alias] = value
        stack.extend(current.dependencies)
    return [_core.QueryParamSpec(alias, value) for alias, value in defaults.items()]


def _expand(field: Any) -> list[tuple[str, Any, bool]]:
    # A Pydantic model declared as Query() contributes its fields, each read
    # from the query string under its own alias.
    annotation = getattr(field.field_info, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [
            (info.alias or name, info.default, info.is_required())
            for name, info in annotation.model_fields.items()
        ]
    return [(field.alias or field.name, field.default, field.field_info.is_required())]


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
