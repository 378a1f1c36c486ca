"""The response every benchmarked endpoint returns, and the endpoint call counter.

Stdlib only: it is imported by the adapters in every venv (project, seed, peers).
"""

from __future__ import annotations

import gzip
import inspect
import json
import random
from collections import Counter
from typing import Any

API_KEY = "bench-secret"
QUERY_PARAMS = tuple(f"q{i}" for i in range(10))
SLOW_SECONDS = 0.1
# The stale variant (ours only): stored with this ttl, then answered stale for
# the rest of the run while its one refresh never completes.
STALE_TTL = 0.01
STALE_WHILE_REVALIDATE = 3600
STALE_PAIRS = 3  # pairs of alternate rounds (stale, plain hit) per configured round


def _record(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "name": f"item-{n}",
        "price": 12.5,
        "in_stock": True,
        "tags": ["alpha", "beta", "gamma", "delta"],
        "dimensions": {"w": 10, "h": 20, "d": 30},
    }


def document(n: int = 0) -> dict[str, Any]:
    """A new JSON document about item ``n``, padded so its compact encoding is 1024 bytes.

    The memory scenario stores one per key: a cache that keeps the endpoint's
    object (not its bytes) must not get away with sharing a single one.
    """
    data: dict[str, Any] = {"items": [_record(n + i) for i in range(4)], "note": ""}
    data["note"] = "x" * (1024 - len(encode(data)))
    return data


def encode(data: Any) -> bytes:
    """Compact JSON, as Starlette's JSONResponse renders it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


DATA = document()
BODY = encode(DATA)
# ~1 MiB: 1024 copies of the 1 KiB document (a list of records, not one long
# string, so a cache that re-serializes on hits pays what it would in real use).
BIG_DATA = {"pages": [DATA] * 1024}
BIG_BODY = encode(BIG_DATA)
ETAG = '"bench-etag"'


def _prose(rng: random.Random, size: int) -> str:
    """``size`` characters of words: text that compresses like real prose, not "xxxx"."""
    text = ""
    while len(text) < size:
        text += rng.choice(_WORDS) + " "
    return text[:size]


_WORDS = (  # noqa: SIM905 (one list of words, read as prose)
    "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega red green blue "
    "cyan yellow black white small large medium north south east west spring summer "
    "autumn winter stock price item order shipped pending"
).split()


def _mid_document() -> dict[str, Any]:
    """~100 KiB of JSON: 100 distinct 1 KiB documents whose padding is words, so
    gzip does real work (about 7:1, like typical JSON) instead of squeezing "xxx"."""
    rng = random.Random(11)
    pages = []
    for i in range(100):
        page = document(4 * i)
        page["note"] = _prose(rng, len(page["note"]))
        pages.append(page)
    return {"pages": pages}


# The compression variants (scenario 1): a ~100 KiB body, plain and through GZipMiddleware.
MID_DATA = _mid_document()
MID_BODY = encode(MID_DATA)
MID_GZIP = gzip.compress(MID_BODY, compresslevel=6, mtime=0)  # asgi-floor's constant answer

# Endpoint calls per route name; a cache that answers hits keeps these still.
# "middleware": requests that reached the edge variant's middleware (_endpoints).
CALLS: Counter[str] = Counter()


def declare_query_params(fn: Any) -> Any:
    """Give ``fn(**params)`` a signature with ten ``int`` query parameters.

    FastAPI (and the peers' decorators) read ``inspect.signature``, which honours
    ``__signature__``; writing ten parameters by hand in every adapter would be noise.
    """
    fn.__signature__ = inspect.Signature(
        [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=0, annotation=int)
            for name in QUERY_PARAMS
        ]
    )
    fn.__annotations__ = {name: int for name in QUERY_PARAMS}
    return fn
