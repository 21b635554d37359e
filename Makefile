# Two commands matter: `make run` (the app locally, Azurite included) and `make test`.
# Both install what they need on first use: a virtualenv from requirements-dev.txt and
# Azurite from package-lock.json.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .make

.PHONY: test lint run bench deps clean

deps: $(STAMPS)/python $(STAMPS)/node

$(STAMPS)/python: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(STAMPS) && touch $@

lint: $(STAMPS)/python
	$(BIN)/ruff check .

test: deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The whole app locally: Azurite (data in .azurite/, default ports 10000-10002) and devhost,
# our emulation of the Functions host, on http://127.0.0.1:7071. Ctrl-C stops both.
run: deps local.settings.json
	$(BIN)/python -m devhost --azurite

local.settings.json:
	cp local.settings.json.example $@
	@echo "Created local.settings.json from the example; put your tokens in it."

# Speed, throughput, API economy and cold-import figures, as one table (takes a few minutes).
bench: deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(STAMPS) node_modules .pytest_cache .ruff_cache .hypothesis
