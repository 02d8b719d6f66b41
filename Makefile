# The two commands: `make run` and `make test`. Both build .venv from nothing first.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.run-stamp

.PHONY: run test install clean bench

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# what `make run` needs: the service alone, without the test extras
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

## serve the product on an embedded PostgreSQL with the demo county (first start loads it)
run: $(RUN_STAMP)
	$(BIN)/tiaojie serve --demo --print-admin-token --host $(HOST) --port $(PORT)

## run the whole test suite (real PostgreSQL, real HTTP servers, headless Chromium if installed)
test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
