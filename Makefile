# salesdw: `make run` runs the whole pipeline on demo data, `make test` runs the test suite.
# Both create the virtual environment and install the locked dependencies first.

PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV)/bin)
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
export DAGSTER_HOME ?= $(abspath data/dagster)
export PATH := $(BIN):$(PATH)

.PHONY: setup run test lint format dev docs docs-generate docs-images bench demo report report-screenshot ui-screenshot clean metrics dashboard dashboard-screenshot

$(STAMP): requirements.lock pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	@# Bytecode compiled once at install: with PYTHONDONTWRITEBYTECODE set (as on CI) every process would
	@# otherwise compile each module it imports again (dagster + GE + dbt: 11 s -> 6 s of CPU per process).
	@# Cache first: the lock pins every version, so what uv's cache holds is the file the index would send. Online,
	@# uv revalidates every download, and where the index's answers do not validate (as on this project's machines)
	@# it downloads and builds the pyspark sdist again on every install: +20 s, and +2.3 GB of cache each time, which
	@# once filled CI's disk. The offline install succeeds only when the cache holds everything; else the online one
	@# runs, and its errors are the ones shown.
	$(BIN)/uv pip install --offline --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock -e . 2>/dev/null \
	  || $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock -e .
	@rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP) ## create .venv and install the locked dependencies
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || cp orchestration/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: setup ## run the whole pipeline once (demo data when the landing zone is empty)
	$(BIN)/salesdw run

# Workers of `make test` (pytest-xdist): auto = one per core, at most 4 (tests/conftest.py); TEST_WORKERS=0 runs
# the suite in this one process. Which tests share a worker: tests/conftest.py, docs/testing.md.
TEST_WORKERS ?= auto

test: setup ## the whole test suite, on TEST_WORKERS parallel workers
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=25

.PHONY: test-reliability
test-reliability: setup ## faults, bad inputs, delivery order, security, with figures (SOAK=1: every kill point)
	SALESDW_SOAK=$(or $(SOAK),$(SALESDW_SOAK),0) $(BIN)/python -m pytest -q -rs tests/reliability

lint: setup ## ruff and sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if ls dbt_project/models/*/*.sql >/dev/null 2>&1 || ls dbt_project/models/*/*/*.sql >/dev/null 2>&1; then \
		cd dbt_project && SALESDW_WAREHOUSE=$${SALESDW_WAREHOUSE:-$(abspath data/warehouse.duckdb)} $(BIN)/sqlfluff lint models; fi

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

dev: setup ## Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

WAREHOUSE := $(or $(SALESDW_WAREHOUSE),$(abspath data/warehouse.duckdb))

docs-generate: setup ## dbt docs' pages and catalog (dbt_project/target) from the warehouse; `make docs` serves them
	@test -f $(WAREHOUSE) || $(MAKE) run
	cd dbt_project && SALESDW_WAREHOUSE=$(WAREHOUSE) $(BIN)/dbt docs generate --profiles-dir .

docs: docs-generate ## dbt docs (lineage from sources to marts, every column described) on http://127.0.0.1:8080
	cd dbt_project && SALESDW_WAREHOUSE=$(WAREHOUSE) $(BIN)/dbt docs serve --profiles-dir . --host 127.0.0.1 --port 8080 --no-browser

bench: setup ## every stage vs its DuckDB floor, as ratios (SCALE=10 by default; SCALES=1,10,50 for several); TARGET=spark: transform on local Spark vs DuckDB (SCALES=1,10)
ifeq ($(TARGET),spark)
	$(BIN)/python -m benchmarks.spark --scales $${SCALES:-1,10}
else
	$(BIN)/python -m benchmarks.run $${SCALES:+--scales $$SCALES} --scale $${SCALE:-10}
endif

report: setup ## rebuild the data-quality report (data/reports/index.html)
	$(BIN)/salesdw report

report-screenshot: setup ## the report's summary page as data/reports/summary.png (needs Debian's chromium)
	$(BIN)/salesdw report --screenshot data/reports/summary.png

ui-screenshot: setup ## the Dagster UI's asset graph as data/ui/asset_graph.png (needs `make dev` running, Debian's chromium)
	$(BIN)/python scripts/ui_screenshot.py --url http://127.0.0.1:3000 --out data/ui/asset_graph.png

demo: setup ## (re)generate the demo landing zone (SCALE, default SALESDW_DEMO_SCALE or 1)
	$(BIN)/salesdw demo-data --out $${SALESDW_LANDING_DIR:-data/landing} --scale $${SCALE:-$${SALESDW_DEMO_SCALE:-1}} --seed $${SALESDW_DEMO_SEED:-7}

.PHONY: pull
pull: setup ## pull the configured connectors (Salesforce, Stripe, SQL billing DB) into raw; CONNECTOR=all by default
	$(BIN)/python -m ingestion.sources $${CONNECTOR:-all}

metrics: setup ## a governed metric from the published marts: make metrics Q="bookings by rep__manager_name, fiscal_quarter"
	@test -n "$(Q)" || { echo 'usage: make metrics Q="bookings, win_rate_count by rep__manager_name, fiscal_quarter" (Q=--list lists the metrics)'; exit 2; }
	$(BIN)/python -m bi.metrics $(if $(filter --list,$(Q)),--list,"$(Q)")

dashboard: setup ## the starter sales dashboard from the published marts: data/dashboard/index.html
	$(BIN)/python -m bi.dashboard --out data/dashboard/index.html

dashboard-screenshot: setup ## the dashboard rendered by headless Chromium: data/dashboard/dashboard.png
	$(BIN)/python -m bi.dashboard --out data/dashboard/index.html --screenshot data/dashboard/dashboard.png

docs-images: report-screenshot dashboard-screenshot ## the README's pictures, docs/img/{report,dashboard}.png, from the current data
	$(BIN)/python scripts/docs_images.py data/reports/summary.png data/dashboard/dashboard.png docs/img

clean: ## remove generated data (keeps .venv)
	rm -rf data dbt_project/target dbt_project/logs
