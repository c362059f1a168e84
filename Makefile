# searchkit — `make demo` and `make test` each set up everything they need in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all install demo test lint bench clean

all: test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/searchkit index corpus/ --index index --jobs 2
	$(BIN)/searchkit search "coree du nord" --index index --limit 3
	$(BIN)/searchkit search "réforme des retraites" --person "Emmanuel Macron" --from 2019 --to 2023 --index index --limit 3 --facets

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check searchkit tests bench
	$(BIN)/ruff format --check searchkit tests bench

bench: install
	$(BIN)/python bench/bench_index.py
	$(BIN)/python bench/bench_search.py

clean:
	rm -rf $(VENV) index/*[!.gitkeep] .pytest_cache
