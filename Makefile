# DATP for Django: the two set-up commands (make run, make test) and their helpers.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run serve wheel example test test-sqlite test-postgres test-postgres-general fuzz latency chaos bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is missing: install Python 3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The whole system on SQLite in var/: web on http://127.0.0.1:8000 and a node per node group.
# make run PORT=8001 serves on 127.0.0.1:8001; make run ADDRESS=0.0.0.0:8000 on another host:port.
PORT ?= 8000
ADDRESS ?= 127.0.0.1:$(PORT)
run: venv
	DATP_WEBHOOK_ALLOW_PRIVATE_NETWORKS=$${DATP_WEBHOOK_ALLOW_PRIVATE_NETWORKS:-true} $(PY) manage.py datp_run \
	  --address $(ADDRESS)

# The production web server: threaded workers; a worker takes no more connections than it has threads,
# so long polls never queue other requests behind them.
serve: venv
	$(PY) -m gunicorn datp_site.wsgi --worker-class gthread --workers 2 --threads 32 \
	  --worker-connections 32 --keep-alive 0 --bind 127.0.0.1:8000

# The installable package: dist/datp_django-<version>-py3-none-any.whl (the apps engine and monitoring),
# for pip install into a Django project of your own (docs/install.md).
wheel: venv
	rm -rf dist build
	$(PY) -m pip wheel --no-deps -q -w dist .
	@ls dist/*.whl

# The example host project (examples/shop) against the built wheel: a venv of its own in var/example/,
# manage.py check, migrate, its own pytest, and a transaction through its runserver and node (make test runs it).
example: venv
	$(PY) -m tests.example_run

# The whole suite on SQLite and on PostgreSQL (two streams at once on two cores: tests/machine.py): installs Debian's postgresql, redis-server and chromium
# when missing (as root or with sudo -n), and starts a private PostgreSQL cluster unless DATABASE_URL
# names one (tests/machine.py).
test:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is missing: install Python 3.11"; exit 1; }
	$(PYTHON) -m tests.machine

test-sqlite: venv
	@echo "== tests on SQLite =="
	env -u DATABASE_URL $(PY) -m pytest -q -m "not postgres_only" $(PYTEST_ARGS)

test-postgres: venv
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "DATABASE_URL names no PostgreSQL: use make test (it starts a private cluster)"; exit 2 ;; esac
	@echo "== tests on PostgreSQL ($$DATABASE_URL) =="
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The run core's tests again on PostgreSQL with its one-statement paths off, so the general paths are
# proven where they run beside the fast ones (tests/machine.py runs it after test-postgres).
test-postgres-general: venv
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "DATABASE_URL names no PostgreSQL: use make test (it starts a private cluster)"; exit 2 ;; esac
	@echo "== run core tests on PostgreSQL, general paths (DATP_FAST_PATHS=false) =="
	DATP_FAST_PATHS=false $(PY) -m pytest -q tests/engine tests/runtime \
	  --ignore-glob='*/test_fast_and_general_agree*' $(PYTEST_ARGS)  # they set the switch both ways themselves

# Schema-driven fuzzing of every API operation, with boundary values, and the input parsers' properties,
# 500 examples each (make test runs a small budget).
fuzz: venv
	DATP_FUZZ_EXAMPLES=500 $(PY) -m pytest -q tests/api/test_fuzz.py tests/api/test_input_properties.py \
	  tests/engine/test_durations.py

# Switch wake-up and timer lateness against a real node (SQLite, or the PostgreSQL in DATABASE_URL).
latency: venv
	$(PY) bench/latency.py

# Faults, restarts and many nodes against real processes (tests/chaos/run.py): the 14 scenarios of
# spec/quality.md R1-R11, Redis, a 5,000-item util/map (issue 19) and schedules under node kills (issue 21),
# a report each. PostgreSQL:
# DATABASE_URL, else a private cluster.
chaos: venv
	@command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server"; exit 1; }
	nice $(PY) -m tests.chaos.run $(CHAOS_ARGS)

# P1-P8 of spec/quality.md beside DBOS and bare django-q2, interleaved in one run (BENCH_ARGS=--quick for
# a few seconds each), P9 (idle latency, issue 20; BENCH_ARGS="--only p9" alone) with CPU per process group and
# statements per transaction, then fan-out and join (BENCH_ARGS="--only fanout" for that part alone) and the
# lateness of 1,000 schedules (BENCH_ARGS="--only schedules"); DBOS
# lives in var/bench/venv, never in the product's dependencies.
BENCH_PY := var/bench/venv/bin/python
BENCH_STAMP := var/bench/venv/.installed

$(BENCH_STAMP):
	test -x $(BENCH_PY) || $(PYTHON) -m venv var/bench/venv
	$(BENCH_PY) -m pip install -q --upgrade pip
	$(BENCH_PY) -m pip install -q "dbos>=3.4,<3.5" "psycopg[binary]>=3.1"
	touch $(BENCH_STAMP)

bench: venv $(BENCH_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3*
