"""MkDocs hook: the package's docstrings name objects with reST roles
(:class:`FastAPICache`), which Markdown renders as text followed by code. The
site shows the code alone."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc):(<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(r"\1", html)
