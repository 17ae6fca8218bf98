# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HUINONG_DB ?= data/warehouse.duckdb
DEMO_RAW ?= data/demo_raw
DEMO_HOUSEHOLDS ?= 20000
DEMO_SEED ?= 20170901
PORT ?= 8501

.PHONY: setup demo run test lint bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

# A demo warehouse, built once: generated raw folder -> intake -> dbt -> atomic publish.
$(HUINONG_DB): | $(VENV)/.installed
	$(PY) -m huinong generate --households $(DEMO_HOUSEHOLDS) --seed $(DEMO_SEED) --out $(DEMO_RAW)
	$(PY) -m huinong build --raw-dir $(DEMO_RAW) --db $(HUINONG_DB)

demo: $(HUINONG_DB)

run: setup demo
	HUINONG_DB=$(abspath $(HUINONG_DB)) $(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup
	$(PY) -m huinong bench --households 10000,100000,1000000 --out bench/results.json

clean:
	rm -rf data target logs .pytest_cache
