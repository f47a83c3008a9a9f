# edgeline: `make run` runs the pipeline on the bundled data, `make test` runs the tests.
# Both create or refresh .venv first (Python 3.10, pinned by constraints.txt).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edgeline-installed
# npm ci writes this file last: LiteRT.js (vendored into each web build) and the tests' browser driver.
WEB_STAMP := web/node_modules/.package-lock.json
# TFX 1.16 supports Python 3.8-3.10; pyenv's shim needs PYENV_VERSION to hand out 3.10.
PYTHON310 ?= $(shell \
  if command -v pyenv >/dev/null 2>&1; then \
    v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.[0-9]+$$' | tail -1); \
    [ -n "$$v" ] && echo "$$(pyenv root)/versions/$$v/bin/python3.10" && exit 0; \
  fi; \
  command -v python3.10 2>/dev/null)
RUN_ARGS ?=
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`/`make test-all` (tests/conftest.py groups what must share a worker).
TEST_WORKERS ?= 2
BENCH_ARGS ?=

.PHONY: venv flink run test test-all lint bench clean-venv

venv: $(STAMP) $(WEB_STAMP)

$(STAMP): constraints.txt requirements.txt requirements-nodeps.txt setup.py
	@if [ -z "$(PYTHON310)" ] || ! "$(PYTHON310)" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	  echo "edgeline needs Python 3.10 (TFX 1.16 does not install on 3.11+)."; \
	  echo "Install it (e.g. 'pyenv install 3.10.13') or pass PYTHON310=/path/to/python3.10."; \
	  exit 1; fi
	@echo "setting up $(VENV) with $(PYTHON310) (first time: about 3 minutes)"
	@[ -x $(PY) ] || "$(PYTHON310)" -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check pip==24.2
	@$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -r requirements.txt
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Offline afterwards: the web build copies LiteRT.js' WASM files from web/node_modules, no CDN.
$(WEB_STAMP): web/package.json web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix web --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: no web build (edge/<version>/web/) and the browser tests skip; install Node.js 18+"; fi

# Flink 1.16 and Beam's job server for tests/test_flink.py, cached in ~/.cache/edgeline/flink (needs Java 17, Maven).
flink: venv
	EDGELINE_PYTHON=$(PY) bash scripts/flink.sh install

run: venv
	$(VENV)/bin/edgeline run $(RUN_ARGS)

test: venv flink
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# ruff is pinned in constraints.txt; its settings live in pyproject.toml.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-all: venv flink
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "" $(PYTEST_ARGS)

# Benchmarks P1-P8 (bench/RESULTS.md); runs the default pipeline first if runs/default has no pushed model.
# P3's peer rows (ONNX Runtime, PyTorch) run in bench/peers/.venv, a Python 3.11 venv of their own.
bench: venv
	bash bench/peers/setup.sh
	$(PY) -m bench $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
