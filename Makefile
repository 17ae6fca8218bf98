# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HUINONG_DB ?= data/warehouse.duckdb
DEMO_RAW ?= data/demo_raw
HUINONG_STORE ?= data/raw_store
DEMO_HOUSEHOLDS ?= 20000
DEMO_SEED ?= 20170901
PORT ?= 8501
# 127.0.0.1 serves this machine only; ADDRESS=0.0.0.0 (or HUINONG_ADDRESS) an office network.
HUINONG_ADDRESS ?= 127.0.0.1
ADDRESS ?= $(HUINONG_ADDRESS)

.PHONY: setup demo run test lint bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

# A demo warehouse, built once: a generated raw folder becomes the raw store's first delivery,
# then intake -> dbt -> atomic publish. Later deliveries are uploaded on the 数据管理 page.
$(HUINONG_DB): | $(VENV)/.installed
	$(PY) -m huinong generate --households $(DEMO_HOUSEHOLDS) --seed $(DEMO_SEED) --out $(DEMO_RAW)
	$(PY) -m huinong deliver --store $(HUINONG_STORE) --source $(DEMO_RAW) --source-label 演示数据
	$(PY) -m huinong build --raw-dir $(HUINONG_STORE) --db $(HUINONG_DB)

demo: $(HUINONG_DB)

# On first start, creates the 金融办 administrator "admin" and prints its one-time password
# (or takes $HUINONG_ADMIN_PASSWORD), then says where to sign in.
run: setup demo
	HUINONG_DB=$(abspath $(HUINONG_DB)) $(PY) -m huinong users ensure-admin --address $(ADDRESS) --port $(PORT)
	HUINONG_DB=$(abspath $(HUINONG_DB)) HUINONG_STORE=$(abspath $(HUINONG_STORE)) \
		$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS) \
		--server.headless true

# Two workers, each running whole files (a file's fixtures stay in one process); each worker
# builds its own small session warehouse.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup
	$(PY) -m huinong bench --households 10000,100000,1000000 --out bench/results.json

clean:
	rm -rf data target logs .pytest_cache
