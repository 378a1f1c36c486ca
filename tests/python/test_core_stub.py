"""The committed stub of the compiled module matches what nanobind generates from it."""

import subprocess
import sys
from pathlib import Path

import fastapi_caching_route

COMMITTED = Path(__file__).resolve().parents[2] / "src" / "fastapi_caching_route" / "_core.pyi"


def test_core_stub_is_up_to_date(tmp_path: Path) -> None:
    generated = tmp_path / "_core.pyi"
    command = [sys.executable, "-m", "nanobind.stubgen", "-q", "-m", "fastapi_caching_route._core"]
    subprocess.run([*command, "-o", str(generated)], check=True)
    assert generated.read_text() == COMMITTED.read_text(), (
        "src/fastapi_caching_route/_core.pyi is stale: regenerate it with "
        "`python -m nanobind.stubgen -m fastapi_caching_route._core "
        "-o src/fastapi_caching_route/_core.pyi`"
    )


def test_stub_ships_with_the_package() -> None:
    installed = Path(fastapi_caching_route.__file__).parent
    assert (installed / "_core.pyi").is_file()
    assert (installed / "py.typed").is_file()
