"""The public import surface: 0.6.0's names and paths, and a complete, sorted __all__."""

import importlib
import importlib.metadata
import re
import types

import pytest

import fastapi_caching_route
import fastapi_caching_route.main

MAIN_NAMES_0_6_0 = (
    "CachingRoute",
    "FastAPICache",
    "DEFAULT_ACCEPTED_STATUS_CODES",
    "KeyBuilder",
    "RouteHandler",
    "CacheParamsBase",
    "CacheParams",
    "CachedResponse",
)

MODULES = ("fastapi_caching_route", "fastapi_caching_route.main")


def test_0_6_0_package_imports() -> None:
    from fastapi_caching_route import CachingRoute, FastAPICache, __version__

    assert isinstance(__version__, str)
    assert __version__ == importlib.metadata.version("fastapi-caching-route")
    assert callable(FastAPICache)
    from fastapi.routing import APIRoute

    assert issubclass(CachingRoute, APIRoute)


def test_0_6_0_main_imports() -> None:
    from fastapi_caching_route.main import (  # noqa: F401
        DEFAULT_ACCEPTED_STATUS_CODES,
        CachedResponse,
        CacheParams,
        CacheParamsBase,
        CachingRoute,
        FastAPICache,
        KeyBuilder,
        RouteHandler,
    )

    assert frozenset({200}) == DEFAULT_ACCEPTED_STATUS_CODES
    assert isinstance(DEFAULT_ACCEPTED_STATUS_CODES, frozenset)


@pytest.mark.parametrize("name", MAIN_NAMES_0_6_0)
def test_main_is_a_thin_re_export(name: str) -> None:
    main = fastapi_caching_route.main
    assert name in main.__all__
    assert getattr(main, name) is getattr(fastapi_caching_route, name)
    assert name in fastapi_caching_route.__all__


def test_main_defines_nothing_of_its_own() -> None:
    main = fastapi_caching_route.main
    for name in main.__all__:
        assert getattr(main, name) is getattr(fastapi_caching_route, name), name


def _keys(typed_dict: type) -> set[str]:
    return set(typed_dict.__required_keys__) | set(typed_dict.__optional_keys__)  # type: ignore[attr-defined]


def test_typed_dicts_have_the_0_6_0_keys() -> None:
    api = fastapi_caching_route
    assert _keys(api.CacheParamsBase) == {"namespace", "ttl"}
    assert _keys(api.CacheParams) == {
        "namespace",
        "ttl",
        "key_builder",
        "dependencies",
        "vary_headers",
    }
    assert _keys(api.CachedResponse) == {"content", "media_type", "raw_headers", "status_code"}
    assert issubclass(api.CacheParams, dict) and issubclass(api.CachedResponse, dict)


def test_backends_are_public() -> None:
    api = fastapi_caching_route
    for name in ("MemoryBackend", "AiocacheBackend", "CacheBackend"):
        assert name in api.__all__
    assert issubclass(api.MemoryBackend, api.CacheBackend)
    assert issubclass(api.AiocacheBackend, api.CacheBackend)


# --- __all__ ----------------------------------------------------------------------------


def _ruff_isort_key(name: str) -> tuple[int, list[object]]:
    """Ruff's RUF022 "isort-style" order: SCREAMING_SNAKE_CASE, then CamelCase,
    then everything else; natural (digit-aware), case-sensitive order within."""
    if len(name) > 1 and name.upper() == name and name.lower() != name:
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    parts: list[object] = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name) if p]
    return group, parts


def test_isort_key_helper() -> None:
    names = ["__version__", "Zeta", "ALPHA_2", "Beta", "ALPHA_10", "Item10", "Item9", "alpha"]
    assert sorted(names, key=_ruff_isort_key) == [
        "ALPHA_2",
        "ALPHA_10",
        "Beta",
        "Item9",
        "Item10",
        "Zeta",
        "__version__",
        "alpha",
    ]


@pytest.mark.parametrize("module_name", MODULES)
def test_all_is_sorted_isort_style(module_name: str) -> None:
    exported = importlib.import_module(module_name).__all__
    assert list(exported) == sorted(exported, key=_ruff_isort_key)
    assert len(set(exported)) == len(exported)


@pytest.mark.parametrize("module_name", MODULES)
def test_all_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize("module_name", MODULES)
def test_all_is_complete(module_name: str) -> None:
    module = importlib.import_module(module_name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    missing = public - set(module.__all__)
    assert not missing, f"public names missing from {module_name}.__all__: {sorted(missing)}"


def test_package_all_includes_version() -> None:
    assert "__version__" in fastapi_caching_route.__all__


def test_star_import_gives_the_public_api() -> None:
    namespace: dict[str, object] = {}
    exec("from fastapi_caching_route import *", namespace)
    for name in ("CachingRoute", "FastAPICache", "DEFAULT_ACCEPTED_STATUS_CODES", "__version__"):
        assert namespace[name] is getattr(fastapi_caching_route, name)
