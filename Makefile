# Two commands: `make run` (install, build missing artifacts, serve) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-long test-browser test-scale screenshots build install lint check-data clean

run: build
	$(BIN)/madoguchi serve

test: $(INSTALLED)
	$(BIN)/python -m pytest

# The two suites that take minutes each: encoder tuning end to end (tune, export, serve, follow
# the champion onto the tuned encoder and back) and three SIGKILLs of a serving process while
# clients write. Kept out of `make test` so that it stays under 15 minutes; CI runs them.
test-long: $(INSTALLED)
	$(BIN)/python -m pytest tests/long

# End-to-end tests of the chat widget, console and dashboard in headless Chromium (Debian's
# chromium package: apt-get install chromium). They fail, not skip, when it is missing.
test-browser: $(INSTALLED)
	MADOGUCHI_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/browser

# Scale-out: two API processes on one PostgreSQL database (a write through one is searchable
# through the other within a second); the API, tenancy and learning-loop suites again with every
# database on a real PostgreSQL server; the retrieval and tenancy suites again with vectors in
# Milvus (milvus-lite, in process). PostgreSQL missing is a failure here, not a skip.
API_AND_LEARNING_TESTS := tests/test_api.py tests/test_triage_api.py tests/test_auth.py \
	tests/test_console_api.py tests/test_api_bad_input.py tests/test_tenancy.py \
	tests/test_metrics.py tests/test_records.py tests/test_retraining.py tests/test_model_registry.py
test-scale: $(INSTALLED)
	MADOGUCHI_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest tests/scale -rP
	MADOGUCHI_TEST_DATABASE=postgresql $(BIN)/python -m pytest $(API_AND_LEARNING_TESTS)
	MADOGUCHI_VECTOR_BACKEND=milvus $(BIN)/python -m pytest tests/test_retrieval.py \
		tests/test_vector_stores.py tests/test_tenancy.py

# Screenshots of the widget, console and dashboard (desktop and 375 px) into docs/screenshots/.
screenshots: $(INSTALLED)
	$(BIN)/python tests/browser/take_screenshots.py docs/screenshots

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
