"""The documentation's code runs: every Python block on a page of docs/ is
included from a file (docs/snippets/*.py or examples/*.py), and each of those
files runs here, its asserts checking what the page says.

`make docs` builds the site with --strict (a missing file or section, a broken
link or API reference fails it); this test runs what the pages show.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
PAGES = sorted(p for p in DOCS.rglob("*.md") if SNIPPETS not in p.parents)
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
INCLUDE = re.compile(r'^\s*--8<-- "(?P<path>[^":]+)(?::(?P<section>[A-Za-z][\w-]*))?(?::\d+)*"\s*$')
SECTION = "# --8<-- [{}:{}]"


def python_blocks() -> Iterator[tuple[Path, str]]:
    for page in PAGES:
        for block in FENCE.finditer(page.read_text()):
            if block["lang"] in ("python", "py", "pycon"):
                yield page, block["body"]


def includes() -> set[tuple[str, str | None]]:
    found = set()
    for page in PAGES:
        for line in page.read_text().splitlines():
            if match := INCLUDE.match(line):
                found.add((match["path"], match["section"]))
    return found


def test_every_python_block_is_included_from_a_file_that_runs() -> None:
    inline = [
        f"{page.relative_to(ROOT)}: {body.strip().splitlines()[0] if body.strip() else ''}"
        for page, body in python_blocks()
        if not all(INCLUDE.match(line) for line in body.strip().splitlines())
    ]
    assert inline == [], "put this code in docs/snippets/ and include it"
    assert len(list(python_blocks())) > 30


def test_included_files_and_sections_exist() -> None:
    for path, section in includes():
        text = (ROOT / path).read_text()
        if section is not None:
            assert SECTION.format("start", section) in text, (path, section)
            assert SECTION.format("end", section) in text, (path, section)


def test_every_snippet_is_shown_and_every_shown_example_is_run() -> None:
    shown = {path for path, _ in includes()}
    for snippet in SNIPPETS.glob("*.py"):
        assert snippet.relative_to(ROOT).as_posix() in shown, f"{snippet.name} is on no page"
    runners = "\n".join(
        p.read_text() for p in [*SNIPPETS.glob("*.py"), *(ROOT / "tests").rglob("*.py")]
    )
    for path in shown:
        if path.startswith("examples/"):
            module = Path(path).stem
            assert re.search(rf"examples[./]{module}\b", runners), f"no test runs {path}"


@pytest.fixture(scope="module")
def sentinel_port(redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Redis Sentinel monitoring the test redis-server as "mymaster"."""
    binary = shutil.which("redis-server")
    assert binary is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    master_port = redis_server.rsplit(":", 1)[1].split("/")[0]
    config = tmp_path_factory.mktemp("sentinel") / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master_port} 1\n"
    )
    process = subprocess.Popen(
        [binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "no sentinel"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def warning_options(config: pytest.Config) -> list[str]:
    """pytest's filterwarnings, as -W options for the snippet's interpreter."""
    return [f"-W{entry}" for entry in config.getini("filterwarnings")]


@pytest.mark.parametrize("snippet", sorted(p.name for p in SNIPPETS.glob("*.py")))
def test_snippet_runs(
    snippet: str, redis_url: str, sentinel_port: int, pytestconfig: pytest.Config
) -> None:
    env = {
        **os.environ,
        # The snippets import docs.snippets helpers from the root, and the
        # package from wherever this run imports it (make mutate's tree too).
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "REDIS_URL": redis_url,
        "REDIS_SENTINEL_PORT": str(sentinel_port),
    }
    env.pop("REDIS_CLUSTER_URL", None)
    result = subprocess.run(
        [sys.executable, *warning_options(pytestconfig), str(SNIPPETS / snippet)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert without_nanobind_leak_report(result.stderr) == "", result.stderr


def without_nanobind_leak_report(stderr: str) -> str:
    """stderr less the report nanobind prints at exit when instances of _core
    types are still alive then (seen since the stale-serving and tags work on
    main, in the whole suite's interpreter as well): not this page's concern."""
    report = re.compile(
        r"^(nanobind: leaked .*| - leaked .*| - \.\.\. skipped remainder|"
        r"nanobind: this is likely .*|See https://nanobind\.readthedocs\.io/.*)$"
    )
    return "\n".join(line for line in stderr.splitlines() if not report.match(line))
