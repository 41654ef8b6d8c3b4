# The two commands a new user needs:  `make run`  and  `make test`.
# Both create .venv and install the locked dependencies on first use (only Python 3.11+ and
# make are required on the machine).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: run test test-fast lint typecheck pytest sandbox lock bench bench-lock chaos clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "leadsync needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	@echo "==> creating $(VENV) and installing locked dependencies (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)  ## start leadsync on the embedded default (SQLite + bundled sandbox + demo traffic)
	LEADSYNC_TRANSCRIPT_BATCH_SECONDS=$${LEADSYNC_TRANSCRIPT_BATCH_SECONDS:-15} $(BIN)/leadsync up --demo

test: lint typecheck pytest  ## ruff, mypy --strict and the whole pytest suite

# The fast tier: pure code and unit tests, no servers, no database (about 25 s on an idle
# machine). `make test` stays the full check.
FAST_TESTS := tests/architecture tests/mapping tests/merge tests/resman/mits \
	tests/resman/client/test_resman_budget.py tests/resman/client/test_resman_classify.py \
	tests/resman/client/test_resman_client_config.py tests/resman/client/test_resman_credentials.py \
	tests/resman/client/test_resman_responses.py tests/resman/client/test_resman_wire.py \
	tests/observability tests/security/test_security_crypto.py \
	tests/realtime/test_realtime_protocol.py tests/test_reconnect.py \
	tests/api tests/leads/test_leads_field_values.py tests/sync/queue/test_queue_jobs.py

test-fast: $(STAMP)  ## the fast tier: pure and unit tests only (no servers, no database)
	$(BIN)/pytest -q $(FAST_TESTS)

lint: $(STAMP)  ## ruff, ruff format and the import-layer contracts (lint-imports)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

sandbox: $(STAMP)  ## run only the ResMan sandbox on port 8765
	$(BIN)/leadsync sandbox --port 8765

# The benchmarks' own dependencies (procrastinate, the queue row's baseline): a separate
# hash-locked file, so the service's requirements.lock stays as it is.
$(BENCH_STAMP): $(STAMP) bench/requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r bench/requirements.lock
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## every benchmark row beside its baseline (BENCH_QUICK=1: small sizes)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The chaos suite at full size (tests/chaos; `make test` runs it at CI size): real processes
# under faults, kills, a ResMan outage and cut database connections, then the invariant check.
# PostgreSQL: a database of its own on LEADSYNC_TEST_POSTGRES_URL (default the local server).
chaos: $(STAMP)  ## the chaos suite at full size (CHAOS_ARGS="--backend sqlite --leads 2000")
	PYTHONPATH=tests $(BIN)/python -m chaos --size full $(CHAOS_ARGS)

bench-lock:  ## re-resolve bench/requirements.lock (needs uv: pip install uv)
	uv pip compile bench/requirements.in -c requirements.lock --universal --python-version 3.11 \
		--generate-hashes --quiet -o bench/requirements.lock

lock:  ## re-resolve requirements.lock from pyproject.toml (needs uv: pip install uv)
	uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o requirements.lock

clean:  ## remove the virtual env and local state
	rm -rf $(VENV) .leadsync .mypy_cache .pytest_cache .ruff_cache
