# The two commands a new user runs: `make demo` and `make test`.
# Also: `make docs` / `make docs-serve` (the site, docs/ and mkdocs.yml) and
# `make dist` (sdist and manylinux wheel in dist/).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CMAKE := $(VENV)/bin/cmake
CTEST := $(VENV)/bin/ctest
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install test-cpp test-asan test-python test-compat test-fuzz fuzz fuzz-build \
	fuzz-toolchain gtest redis-server clean mutate docs docs-serve dist test-wheel wheel-matrix

# The build tools; everything else comes from pyproject.toml's `test` extra.
$(VENV)/.deps-stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "scikit-build-core>=0.10" "nanobind>=2.4" ninja cmake
	touch $@

# Rebuilds the extension when any engine, binding or package file changes.
SOURCES := $(shell find engine bindings src -type f) CMakeLists.txt pyproject.toml
$(VENV)/.install-stamp: $(VENV)/.deps-stamp $(SOURCES)
	$(PIP) install --quiet --no-build-isolation ".[test]"
	touch $@

install: $(VENV)/.install-stamp

demo: install
	@$(PY) examples/demo.py --host $(HOST) --port $(PORT)

# GoogleTest comes from Debian's packages; installed here when missing.
gtest:
	@if [ ! -f /usr/lib/x86_64-linux-gnu/cmake/GTest/GTestConfig.cmake ] && ! dpkg -s libgtest-dev >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libgtest-dev >/dev/null; \
		else echo "libgtest-dev is missing: run 'sudo apt-get install libgtest-dev'" >&2; exit 1; fi; \
	fi

redis-server:
	@if ! command -v redis-server >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; \
		else echo "redis-server is missing: run 'sudo apt-get install redis-server'" >&2; exit 1; fi; \
	fi

test-cpp: gtest $(VENV)/.deps-stamp
	$(CMAKE) -S . -B build/engine -G Ninja -DFCR_BUILD_TESTS=ON -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV))/bin/ninja >/dev/null
	$(CMAKE) --build build/engine
	$(CTEST) --test-dir build/engine --output-on-failure

test-asan: gtest $(VENV)/.deps-stamp
	$(CMAKE) -S . -B build/asan -G Ninja -DFCR_BUILD_TESTS=ON -DFCR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_MAKE_PROGRAM=$(abspath $(VENV))/bin/ninja >/dev/null
	$(CMAKE) --build build/asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CTEST) --test-dir build/asan --output-on-failure

test-python: install redis-server
	$(PY) -m pytest

# The oldest FastAPI we support, in a venv of its own. Its Starlette imports an
# anyio alias that newer anyio deprecates, hence the one warning filter.
COMPAT_VENV := .venv-fastapi-0.115
$(COMPAT_VENV)/.deps-stamp: pyproject.toml
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install --quiet "fastapi>=0.115,<0.116" "scikit-build-core>=0.10" \
		"nanobind>=2.4" ninja cmake
	touch $@

test-compat: $(COMPAT_VENV)/.deps-stamp redis-server
	$(COMPAT_VENV)/bin/pip install --quiet --no-build-isolation ".[test]" "fastapi>=0.115,<0.116"
	$(COMPAT_VENV)/bin/python -m pytest -q -o "filterwarnings=ignore::DeprecationWarning"

# The Python suite runs last so that its summary closes the output.
test: test-cpp test-asan test-fuzz bench-smoke test-compat docs test-wheel test-python

clean:
	rm -rf build dist $(VENV) $(COMPAT_VENV) $(MUTATE_VENV)

# The documentation site: mkdocs-material, the API reference by mkdocstrings.
# --strict turns every warning (a broken link, a missing reference or snippet)
# into a failure. The pages' code runs in tests/python/test_docs.py.
$(VENV)/.docs-stamp: $(VENV)/.install-stamp
	$(PIP) install --quiet --no-build-isolation ".[docs]"
	touch $@

# (NO_MKDOCS_2_WARNING: mkdocs-material's banner about its successor.)
docs: $(VENV)/.docs-stamp
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

docs-serve: $(VENV)/.docs-stamp
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict --dev-addr $(HOST):$(PORT)

# Distributions: the sdist, and this machine's wheel built from the tree (the
# build directory of `make install` is reused) and repaired to a manylinux tag.
$(VENV)/.dist-stamp: $(VENV)/.install-stamp
	$(PIP) install --quiet --no-build-isolation ".[dist]"
	touch $@

dist: $(VENV)/.dist-stamp
	rm -rf dist build/wheelhouse
	$(PY) -m build --sdist --no-isolation --outdir dist . >/dev/null
	$(PY) tests/check_sdist.py dist
	$(PIP) wheel --quiet --no-build-isolation --no-deps --wheel-dir build/wheelhouse .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/auditwheel repair --wheel-dir dist build/wheelhouse/*.whl
	$(VENV)/bin/twine check --strict dist/*
	@ls -l dist

# The wheel in a fresh venv: our package only as a binary (no compiler can be
# used: CC and CXX fail), its dependencies from the index; then the smoke test
# serves examples/minimal_app.py (MISS, HIT, 304).
WHEEL_VENV := build/wheel-venv
test-wheel: dist wheel-matrix
	@$(VENV)/bin/auditwheel show dist/*.whl | tee build/auditwheel-show.txt
	@grep -q 'platform tag: "manylinux_' build/auditwheel-show.txt
	@ls dist/*manylinux*.whl >/dev/null
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	CC=false CXX=false $(WHEEL_VENV)/bin/pip install --quiet --no-index --find-links dist \
		--only-binary=:all: --no-deps fastapi-caching-route
	CC=false CXX=false $(WHEEL_VENV)/bin/pip install --quiet --find-links dist \
		--only-binary=fastapi-caching-route fastapi-caching-route httpx2
	$(WHEEL_VENV)/bin/pip check
	cd $(WHEEL_VENV) && bin/python $(abspath tests/wheel_smoke.py)

# The cibuildwheel matrix of pyproject.toml, checked without building:
# cibuildwheel 3.x, the last to build the free-threaded 3.13 (cp313t).
$(VENV)/.cibw-stamp: $(VENV)/.deps-stamp
	$(PIP) install --quiet "cibuildwheel>=3.1,<4"
	touch $@

wheel-matrix: $(VENV)/.cibw-stamp
	@mkdir -p build
	@for platform in linux macos windows; do \
		$(VENV)/bin/cibuildwheel --print-build-identifiers --platform $$platform . \
			> build/cibw-$$platform.txt || exit 1; \
		echo "$$platform: $$(tr '\n' ' ' < build/cibw-$$platform.txt)"; \
	done
	@grep -q '^cp313t-manylinux_x86_64$$' build/cibw-linux.txt
	@grep -q '^cp313t-manylinux_aarch64$$' build/cibw-linux.txt
	@grep -q '^cp313t-macosx_arm64$$' build/cibw-macos.txt
	@grep -q '^cp313t-win_amd64$$' build/cibw-windows.txt
	@grep -q '^cp310-manylinux_x86_64$$' build/cibw-linux.txt

# libFuzzer targets (tests/fuzz), built with Debian's clang 14 into build/fuzz.
FUZZ_SECONDS ?= 300
FUZZ_CC := clang-14
FUZZ_CXX := clang++-14

fuzz-toolchain:
	@if ! command -v $(FUZZ_CXX) >/dev/null 2>&1 || ! dpkg -s libclang-rt-14-dev libfuzzer-14-dev >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq clang-14 libclang-rt-14-dev libfuzzer-14-dev >/dev/null; \
		else echo "clang 14 with libFuzzer is missing: run 'sudo apt-get install clang-14 libclang-rt-14-dev libfuzzer-14-dev'" >&2; exit 1; fi; \
	fi

fuzz-build: fuzz-toolchain $(VENV)/.deps-stamp
	CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) $(CMAKE) -S . -B build/fuzz -G Ninja -DFCR_BUILD_FUZZERS=ON \
		-DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_MAKE_PROGRAM=$(abspath $(VENV))/bin/ninja >/dev/null
	$(CMAKE) --build build/fuzz

# Each target for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=3600 for a long run).
fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) build/fuzz

test-fuzz: fuzz-build
	tests/fuzz/run.sh 30 build/fuzz

# Benchmarks (benchmarks/README.md). `python -m benchmarks` creates the comparison
# venvs under benchmarks/.venvs on first use; matplotlib (the chart), wrk and
# redis-server (scenario 5) are bench-only tools, not dependencies of the package.
.PHONY: bench bench-smoke wrk

$(VENV)/.bench-stamp: $(VENV)/.deps-stamp
	$(PIP) install --quiet matplotlib
	touch $@

wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
		else echo "wrk is missing: run 'sudo apt-get install wrk'" >&2; exit 1; fi; \
	fi

bench: install wrk redis-server $(VENV)/.bench-stamp
	$(PY) -m benchmarks

bench-smoke: install wrk redis-server $(VENV)/.bench-stamp
	$(PY) -m benchmarks --smoke

# Mutation testing (tests/mutation/README.md): mutmut over the request flow and
# the backends, and the engine mutants kept as patches, each in a scratch copy
# under build/mutation. One and a half to two hours from a clean clone on two cores; mutmut's
# verdicts are kept in build/mutation/python, so a rerun tests what changed
# (MUTATE_ARGS=--fresh forgets them). Not part of `make test`.
MUTATE_VENV := .venv-mutate
MUTATE_ARGS ?=
$(MUTATE_VENV)/.deps-stamp: pyproject.toml
	$(PYTHON) -m venv $(MUTATE_VENV)
	$(MUTATE_VENV)/bin/pip install --quiet --upgrade pip
	$(MUTATE_VENV)/bin/pip install --quiet "mutmut==3.8.1" "nanobind>=2.4" ninja cmake \
		"tomli>=2; python_version < '3.11'"
	$(MUTATE_VENV)/bin/python tests/mutation/mutate.py --requirements > $(MUTATE_VENV)/requirements.txt
	$(MUTATE_VENV)/bin/pip install --quiet -r $(MUTATE_VENV)/requirements.txt
	touch $@

mutate: gtest redis-server $(MUTATE_VENV)/.deps-stamp
	$(MUTATE_VENV)/bin/python tests/mutation/mutate.py $(MUTATE_ARGS)
