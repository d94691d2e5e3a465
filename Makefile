# Two entry points: `make demo` serves site_demo/, `make test` runs every check.
# Both create the virtual environment they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.krait-installed
export PYTHONPATH := $(CURDIR)

.PHONY: demo test lint typecheck docs unit bench clean test-minimums

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q '.[test,dev,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/twistd -n --pidfile= krait --site site_demo --listen tcp:8080:interface=127.0.0.1 --reload \
		--metrics-listen tcp:9100:interface=127.0.0.1

lint: $(STAMP)
	$(BIN)/ruff check krait tests bench twisted .ci
	$(BIN)/ruff format --check krait tests bench twisted .ci

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck docs unit

bench: $(STAMP)
	$(BIN)/python bench/bench_static.py

# The oldest dependency versions setup.cfg admits, proved: .venv-min gets every
# install_requires pinned to its `>=` bound (.ci/minimum_pins.py), and the whole suite runs
# against them. Not part of `make test`: building the environment takes about a minute and
# the suite 7 (8 minutes in all on 2 busy cores). Run it after changing a dependency or a bound.
MIN_VENV := .venv-min
test-minimums:
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q --upgrade pip
	$(PYTHON) .ci/minimum_pins.py setup.cfg > $(MIN_VENV)/minimums.txt
	$(MIN_VENV)/bin/python -m pip install -q -c $(MIN_VENV)/minimums.txt '.[test]'
	$(MIN_VENV)/bin/python .ci/minimum_pins.py --check setup.cfg
	$(MIN_VENV)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) $(MIN_VENV) docs/_build build *.egg-info
