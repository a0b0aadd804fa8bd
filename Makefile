# `make test` and `make demo` each set up their own virtual environment on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

.PHONY: install test lint docs demo
install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy src

# the API reference from the docstrings (mkdocs + mkdocstrings), built offline into build/site
docs: $(STAMP)
	$(PY) -m mkdocs build -q

# two workers: CI and the development machine have 2 cores
test: lint docs
	$(PY) -m pytest -q -n 2 --dist loadgroup

demo: $(STAMP)
	$(VENV)/bin/parsecnas demo
