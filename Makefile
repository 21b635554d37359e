# Two commands matter: `make run` (the app locally, Azurite included) and `make test`.
# Both install what they need on first use: a virtualenv from requirements-dev.txt and
# Azurite from package-lock.json.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .make
AZURITE := node_modules/.bin/azurite

.PHONY: test lint run deps clean

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

# Azurite keeps its data under .azurite/ (git-ignored) on the default ports 10000-10002.
run: deps
	@mkdir -p .azurite
	@echo "Starting Azurite on 127.0.0.1:10000-10002 (data in .azurite/); Ctrl-C stops it."
	@echo "The local Functions host is not part of this app yet: run the functions with"
	@echo "Core Tools ('func start') where it is installed; see README 'Running locally'."
	exec $(AZURITE) --silent --disableTelemetry --skipApiVersionCheck --location .azurite \
		--blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1

clean:
	rm -rf $(VENV) $(STAMPS) node_modules .pytest_cache .ruff_cache .hypothesis
