"""Create the comparison venvs under ``benchmarks/.venvs/`` (run with the project venv).

``seed`` holds fastapi-caching-route 0.6.0 (it shares our import name, so it
cannot live next to ours); ``peers`` holds fastapi-cache2 and cashews. Every
venv pins the web stack to the versions found in the project venv, so the
comparison measures the caches and not different FastAPI releases. A stamp file
records the requirements a venv was built with; it is rebuilt only when they
change.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"

# Pinned in every venv to the project venv's versions.
SHARED_STACK = (
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "pydantic-core",
    "anyio",
    "httptools",
    "uvloop",
)

# redis (+ hiredis) for scenario 5, pinned like the web stack to the project venv's
# client: aiocache's RedisCache and fastapi-cache2's RedisBackend both use redis-py.
REDIS_CLIENT = ["redis", "hiredis"]
SYSTEM_PACKAGES = {
    "seed": ["fastapi-caching-route==0.6.0", "aiocache", *REDIS_CLIENT],
    # fastapi-cache2 imports starlette.templating, which needs jinja2 since starlette 0.3x.
    "peers": ["fastapi-cache2==0.2.2", "cashews==7.6.0", "jinja2", *REDIS_CLIENT],
}


def _pinned(name: str) -> str:
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:  # not in the project venv: let pip choose
        return name


def requirements(name: str) -> list[str]:
    """The pip requirements of one comparison venv."""
    packages = [_pinned(p) if "==" not in p else p for p in SYSTEM_PACKAGES[name]]
    return [*(_pinned(p) for p in SHARED_STACK), *packages]


def python_of(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def ensure(name: str) -> Path:
    """Create or refresh one venv; returns its python."""
    reqs = requirements(name)
    root = VENVS / name
    stamp = root / ".bench-stamp"
    if stamp.exists() and json.loads(stamp.read_text()) == reqs and python_of(name).exists():
        return python_of(name)
    print(f"setting up benchmarks/.venvs/{name}: {' '.join(reqs)}", file=sys.stderr, flush=True)
    # The base interpreter, not the project venv's, so the new venv does not chain to it.
    venv.EnvBuilder(clear=True, with_pip=True).create(root)
    pip = [str(python_of(name)), "-m", "pip", "--disable-pip-version-check"]
    # pip's output (and its warnings about unused local indexes) only matters when it fails.
    done = subprocess.run([*pip, "install", "--quiet", *reqs], capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"could not set up benchmarks/.venvs/{name}")
    stamp.write_text(json.dumps(reqs))
    return python_of(name)


def ensure_all() -> dict[str, Path]:
    return {name: ensure(name) for name in SYSTEM_PACKAGES}


if __name__ == "__main__":
    for venv_name, python in ensure_all().items():
        print(f"{venv_name}: {python}")
