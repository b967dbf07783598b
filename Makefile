# One command each: `make demo` and `make test` create the virtualenv and install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEMO_STEPS ?= 1,2,4,8,16
DEMO_STEP ?= 5s

.PHONY: demo test check lint typecheck imports unit integration e2e conformance clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# A short capacity run of the tensor user against the emulator: exact summary, SLO point, fleet, report.html.
demo: $(STAMP)
	$(BIN)/locust -f locustfiles/triton.py --headless TritonUser --run-name demo --only-summary \
		--steps $(DEMO_STEPS) --step-duration $(DEMO_STEP) --slo 'p95(latency)<20ms' \
		--target-rps 2000 --instance-type ml.g5.xlarge

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

conformance: $(STAMP)
	$(BIN)/pytest -q tests/conformance

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
