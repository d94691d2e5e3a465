# Two entry points: `make demo` serves site_demo/, `make test` runs every check.
# Both create the virtual environment they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.krait-installed
export PYTHONPATH := $(CURDIR)

.PHONY: demo test lint typecheck docs unit bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q '.[test,dev,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/twistd -n --pidfile= krait --site site_demo --listen tcp:8080

lint: $(STAMP)
	$(BIN)/ruff check krait tests bench twisted
	$(BIN)/ruff format --check krait tests bench twisted

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck docs unit

bench: $(STAMP)
	$(BIN)/python bench/bench_static.py

clean:
	rm -rf $(VENV) docs/_build build *.egg-info
