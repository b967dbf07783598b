# One command each: `make demo` and `make test` create the virtualenv and install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEMO_USERS ?= 8
DEMO_TIME ?= 15s

.PHONY: demo test check lint typecheck imports unit integration e2e clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/locust -f locustfiles/triton.py --headless -u $(DEMO_USERS) -r $(DEMO_USERS) -t $(DEMO_TIME) \
		--run-name demo --only-summary

test: check

check: lint typecheck imports
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bench locustfiles tests
	$(BIN)/ruff format --check bench locustfiles tests

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
