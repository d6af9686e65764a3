# MotID — the two commands of the README, and a few helpers.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test test-fast layers translations bench clean

## make run: install, migrate the embedded SQLite database, seed demo data, serve on http://127.0.0.1:5000
run: $(VENV)/.installed
	$(BIN)/idp db upgrade
	$(BIN)/idp demo seed
	$(BIN)/idp serve --host 127.0.0.1 --port 5000 --workers 2

## make test: install the test extras, check the import layers, run the whole suite with branch coverage
test: $(VENV)/.installed-test layers
	$(BIN)/pytest --cov --cov-config=setup.cfg --cov-report=term

## make test-fast: the layers and the suite without browser, Node/interop, nginx, benchmark and live-server tests
test-fast: $(VENV)/.installed-test layers
	$(BIN)/pytest -m "not (browser or interop or nginx or bench or live)"

## make layers: the import contracts of setup.cfg [importlinter] (import-linter)
layers: $(VENV)/.installed-test
	$(BIN)/lint-imports --no-cache

translations: $(VENV)/.installed
	scripts/i18n.sh

bench: $(VENV)/.installed
	$(BIN)/python bench/login_bench.py --database sqlite --write docs/benchmarks.md
	$(BIN)/python bench/login_bench.py --database postgresql --write docs/benchmarks.md

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) instance .coverage motid.egg-info
