# Two entry points: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/faqbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/faqbot
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/faqbot
	$(BIN)/faqbot run

test: $(VENV)/.dev
	$(BIN)/ruff check bot tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check bot tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache data/cache
