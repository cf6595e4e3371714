# Every command the README uses. `make run` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: setup run report status test lint demo bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian run: apt-get install python3-venv" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

## Start the whole product: Redis (embedded unless REDIS_URL is set), one Celery worker, the web app on :8050.
run: $(STAMP)
	$(BIN)/python -m workers run

## The command-line report on the built-in demo data (no Redis needed).
report: $(STAMP)
	$(BIN)/python -m analysis report demo

## Queue length, live workers and running jobs of a running instance.
status: $(STAMP)
	$(BIN)/python -m workers status

## Lint, then the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

## Benchmarks against polars and scikit-learn baselines; writes bench/results/latest.md (about 10 minutes).
bench: $(STAMP)
	$(BIN)/python -m bench

## Write 1M demo rows to data/demo.parquet.
demo: $(STAMP)
	$(BIN)/python -m analysis demo --rows 1000000 --out data/demo.parquet

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
