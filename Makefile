# Two commands: `make run` (install, build missing artifacts, serve) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test build install lint check-data clean

run: build
	$(BIN)/madoguchi serve

test: $(INSTALLED)
	$(BIN)/python -m pytest

build: $(INSTALLED)
	$(BIN)/madoguchi build

install: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "madoguchi needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(INSTALLED)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-data: $(INSTALLED)
	$(BIN)/madoguchi data check

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
