# Switchboard: every target creates the virtual environment it needs first.
# Needs only Python 3.11, make and access to PyPI (and npm for `make lint`'s buf).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BUF := node_modules/.bin/buf
BUF_DEPS := build/buf-deps/google/api/httpbody.proto
COVERED := --cov=svckit --cov=services --cov=gateway --cov-report=term --cov-fail-under=90
# Test processes (pytest-xdist). Much of a test's time is spent waiting on the service processes
# it starts, so two workers on two cores finish the suite in about two thirds of the time of one;
# three made start-ups slow enough to miss their deadlines. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: help install run test lint format protos protos-check buf-lint buf-breaking bench bench-ratelimit bench-cost bench-router bench-gateway bench-prompts bench-flags lock clean

help:
	@echo "make run    start the suite with embedded defaults (Ctrl-C stops it)"
	@echo "make test   run every test (real Redis when it answers; CI requires it)"
	@echo "make lint   ruff, mypy --strict, bandit, buf lint, generated-code drift check"
	@echo "make bench  benchmarks (bench-ratelimit, bench-cost, bench-router, bench-gateway)"

$(INSTALLED): requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	@# xds-protos ships an old copy of opentelemetry-proto's modules over the real ones, which
	@# breaks the OTLP exporter; reinstall opentelemetry-proto last so its files win.
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
	  "$$(grep -oE '^opentelemetry-proto==[^ ]+' requirements-dev.lock)"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(PY) -m scripts.run_suite

test: $(INSTALLED)
	$(PY) -m pytest $(COVERED) -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(INSTALLED) buf-lint buf-breaking protos-check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit -q -c pyproject.toml -r svckit services gateway scripts

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

protos: $(INSTALLED)
	$(PY) scripts/gen_protos.py

protos-check: $(INSTALLED)
	rm -rf build/gen-check
	$(PY) scripts/gen_protos.py --out build/gen-check
	@diff -r -x __pycache__ gen/python build/gen-check \
	  || (echo "gen/python is stale or edited by hand: run 'make protos' and commit" && exit 1)

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUF_DEPS): $(INSTALLED)
	mkdir -p $(@D)
	cp "$$($(PY) -c 'import google.api.annotations_pb2 as a, os; print(os.path.dirname(a.__file__))')"/{annotations,http,httpbody}.proto $(@D)/

buf-lint: $(BUF) $(BUF_DEPS)
	$(BUF) lint

# Breaking-change check of the working tree's protos against main's (FILE rules). buf reads
# main's protos from `git archive`, with the same google/api files beside them.
BREAKING_BASE ?= $(shell git rev-parse --verify -q main >/dev/null && echo main || echo HEAD)
buf-breaking: $(BUF) $(BUF_DEPS)
	rm -rf build/against && mkdir -p build/against/build
	git archive $(BREAKING_BASE) protos buf.yaml | tar -x -C build/against
	cp -r build/buf-deps build/against/build/
	cd build/against && ../../$(BUF) build -o ../against.binpb
	$(BUF) build -o build/current.binpb
	$(BUF) breaking build/current.binpb --against build/against.binpb

bench: bench-ratelimit bench-cost bench-router bench-gateway bench-prompts bench-flags

bench-ratelimit: $(INSTALLED)
	$(PY) -m scripts.bench_ratelimit $(BENCH_ARGS)

bench-cost: $(INSTALLED)
	$(PY) -m scripts.bench_cost $(BENCH_ARGS)

bench-router: $(INSTALLED)
	$(PY) -m scripts.bench_router $(BENCH_ARGS)

bench-flags: $(INSTALLED)
	$(PY) -m scripts.bench_flags $(BENCH_ARGS)

bench-prompts: $(INSTALLED)
	$(PY) -m scripts.bench_prompts $(BENCH_ARGS)

# Installs LiteLLM's proxy and Portkey's gateway into build/bench-env on first use (PyPI, npm).
bench-gateway: $(INSTALLED)
	$(PY) -m scripts.bench_gateways $(BENCH_ARGS)

# Re-pin every dependency (needs PyPI); commit both lock files with the reason in the message.
lock: $(INSTALLED)
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --generate-hashes -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --generate-hashes --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) build node_modules .coverage .pytest_cache .mypy_cache .ruff_cache
