# DATP for Django: the two set-up commands (make run, make test) and their helpers.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is missing: install Python 3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py datp_load_pipelines pipelines/
	@echo "The node runtime and the web server arrive with issue 4; the engine is usable in-process now."

# The whole suite on SQLite, then again on PostgreSQL when DATABASE_URL names one.
test: venv
	$(MAKE) --no-print-directory test-sqlite
	@case "$$DATABASE_URL" in \
	  postgres*) $(MAKE) --no-print-directory test-postgres ;; \
	  *) echo "DATABASE_URL names no PostgreSQL: the PostgreSQL pass was not run (.ci/run runs it)." ;; \
	esac

test-sqlite: venv
	@echo "== tests on SQLite =="
	env -u DATABASE_URL $(PY) -m pytest -q -m "not postgres_only" $(PYTEST_ARGS)

test-postgres: venv
	@echo "== tests on PostgreSQL ($$DATABASE_URL) =="
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3*
