VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint install clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Two workers that steal each other's queued tests (the long fault tests spread out); every
# worker starts its own servers and Airflow DB.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 2 --dist worksteal

demo: $(STAMP)
	$(PY) -m orbit_provider.demo

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) -m benchmarks.transfer
	$(PY) -m benchmarks.batch
	$(PY) -m benchmarks.tree

clean:
	rm -rf $(VENV)
