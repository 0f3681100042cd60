# Two set-up commands: `make run` and `make test`. Everything else builds on them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GATEWAY_PORT ?= 8000

.PHONY: install run test soak check lint types contract clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
	@# What the CLI reads beside this gateway (gateway/cli/common.py: RUN_ENV_FILE).
	@umask 077; { echo "# Written by make run; read by .venv/bin/juntos-gateway run here (the environment wins)."; \
		echo "GATEWAY_ENV=$${GATEWAY_ENV:-sandbox}"; \
		env | grep '^GATEWAY_' | grep -v '^GATEWAY_ENV=' | sed 's/=\(.*\)/="\1"/'; } > var/run.env
	GATEWAY_ENV=$${GATEWAY_ENV:-sandbox} $(BIN)/juntos-gateway db upgrade
	GATEWAY_ENV=$${GATEWAY_ENV:-sandbox} $(BIN)/juntos-gateway serve

# The suite runs on SQLite, then again on PostgreSQL when GATEWAY_TEST_POSTGRES_URL is set.
test: $(STAMP)
	GATEWAY_TEST_DATABASE=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -n "$$GATEWAY_TEST_POSTGRES_URL" ]; then \
		echo "== same suite on PostgreSQL =="; \
		GATEWAY_TEST_DATABASE=postgres $(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
		echo "GATEWAY_TEST_POSTGRES_URL not set: PostgreSQL run skipped (.ci/run sets it)"; \
	fi

# The long part of the reliability suite: ten SIGKILLs per durable job, many more fuzzing
# cases, a larger operation under partner faults (same tests as `make test`, harder).
SOAK_TESTS := tests/gateway/test_fuzz.py tests/gateway/exchanges/test_exchanges.py \
	tests/gateway/payments/test_payments.py tests/program tests/audit/test_chain.py \
	tests/gateway/ratelimit/test_rate_limit.py tests/gateway/calls/test_privacy.py
soak: export GATEWAY_SOAK_KILLS = 10
soak: export GATEWAY_FUZZ_EXAMPLES = 150
soak: export GATEWAY_SOAK_HOUSEHOLDS = 400
soak: $(STAMP)
	GATEWAY_TEST_DATABASE=sqlite $(BIN)/python -m pytest -s $(SOAK_TESTS) $(PYTEST_ARGS)
	@if [ -n "$$GATEWAY_TEST_POSTGRES_URL" ]; then \
		echo "== same soak on PostgreSQL =="; \
		GATEWAY_TEST_DATABASE=postgres $(BIN)/python -m pytest -s $(SOAK_TESTS) $(PYTEST_ARGS); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

contract: $(STAMP)
	$(BIN)/juntos-gateway contract export contracts/gateway/openapi.yaml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
