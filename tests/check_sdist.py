"""`make dist`: the sdist in DIR holds every file the wheel is built from.

A file missing from an sdist only shows when someone without a wheel for
their platform tries to install it; this catches it at `make dist` time.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDED_DIRS = ("engine", "bindings", "src")
NEEDED_FILES = ("CMakeLists.txt", "pyproject.toml", "README.md")
SKIPPED = ("__pycache__", ".so", ".pyc")


def main(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    needed = set(NEEDED_FILES)
    for directory in NEEDED_DIRS:
        for path in (ROOT / directory).rglob("*"):
            if path.is_file() and not any(s in path.as_posix() for s in SKIPPED):
                needed.add(path.relative_to(ROOT).as_posix())
    missing = sorted(needed - names)
    if missing:
        sys.exit(f"{sdist.name} lacks {len(missing)} file(s): {', '.join(missing)}")
    print(f"{sdist.name}: {len(names)} files, every source of the wheel included")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
