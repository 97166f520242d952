VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo airflow bench lint install clean check-floor

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Four workers that steal each other's queued tests (most tests wait on a server, so four keep
# two cores busier than two; about 3.5 min here, the longest tests first); every worker starts
# its own servers and Airflow DB. Then the system suite on its own (about 1.5 min): one real
# Airflow deployment for all its tests, which uses both cores itself.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 4 --dist worksteal --ignore=tests/system
	$(PY) -m pytest -q -p no:xdist tests/system

# A real Airflow (UI, scheduler, dag-processor, triggerer) with the examples, SeaweedFS and
# moto's server on loopback; prints the UI address and login; Ctrl-C stops everything.
airflow: $(STAMP)
	$(PY) -m orbit_provider.testing.deployment

demo: $(STAMP)
	$(PY) -m orbit_provider.demo

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) -m benchmarks.transfer
	$(PY) -m benchmarks.transfer --profile wan
	$(PY) -m benchmarks.batch
	$(PY) -m benchmarks.tree
	$(PY) -m benchmarks.shards

# The oldest Airflow pyproject.toml allows, in its own venv: every module imports and every
# example DAG parses. Needs that Airflow version from the package index.
FLOOR_VENV ?= .venv-floor
AIRFLOW_FLOOR := $(shell sed -n 's/.*"apache-airflow>=\([0-9.]*\),.*/\1/p' pyproject.toml)

check-floor:
	python3 -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet "apache-airflow==$(AIRFLOW_FLOOR).0" -e .
	export AIRFLOW_HOME=$$(mktemp -d) AIRFLOW__CORE__LOAD_EXAMPLES=False; \
	$(FLOOR_VENV)/bin/python -c "import importlib, pkgutil, orbit_provider as p; \
	names = [m.name for m in pkgutil.walk_packages(p.__path__, 'orbit_provider.')]; \
	[importlib.import_module(n) for n in names]; print(len(names), 'modules import')" && \
	$(FLOOR_VENV)/bin/python -c "import airflow; \
	from airflow.dag_processing.dagbag import DagBag; b = DagBag('dags_examples'); \
	assert b.dags and not b.import_errors, b.import_errors; \
	print(len(b.dags), 'example DAGs parse on Airflow', airflow.__version__)"; \
	status=$$?; rm -rf "$$AIRFLOW_HOME"; exit $$status

clean:
	rm -rf $(VENV) $(FLOOR_VENV)
