# Two set-up commands: `make run` and `make test`. Everything else builds on them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GATEWAY_PORT ?= 8000

.PHONY: install run test check lint types contract clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

contract: $(STAMP)
	$(BIN)/juntos-gateway contract export contracts/gateway/openapi.yaml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
