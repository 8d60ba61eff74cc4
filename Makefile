# Holdfast: `make run` starts everything; `make test` runs the whole suite. Both set up first.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
FLASK   := $(PY) -m flask --app wsgi
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH

.PHONY: run run-prod test bench load soak setup migrate seed chromium clean

setup: $(VENV)/.installed

# Re-installs whenever a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

migrate: setup
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed-demo

run: seed
	$(FLASK) dev

# The production setting on this machine: gunicorn, PostgreSQL, Redis, RQ workers per queue,
# both sandbox PSPs, HOLDFAST_ENV=production (deploy/run-prod.sh; docs/operations.md).
run-prod: setup
	bash deploy/run-prod.sh

# Browser tests use Debian's Chromium; install it when missing and we may (root + apt).
chromium:
	@test -x $(CHROMIUM_PATH) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Chromium at $(CHROMIUM_PATH): sudo apt-get install chromium"; exit 1; fi; }

test: setup chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# Ratios against baselines measured in the same run (bench/README.md); BENCH_ARGS=--quick.
bench: setup $(VENV)/.bench-installed
	$(PY) -m bench.run $(BENCH_ARGS)

# Locust against a running `make run-prod` (same PORT, PG_PORT, HOLDFAST_INSTANCE); LOAD_ARGS.
load: setup $(VENV)/.bench-installed
	$(PY) -m bench.load $(LOAD_ARGS)

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	@touch $@

# The seeded simulation (docs/simulation.md): SEEDS=N runs (from FIRST) in SOAK_JOBS processes,
# SEED=S replays one (KEEP=steps FAULTS=ids: a shrunk trace's replay line), BUDGET=seconds stops
# starting new seeds after that long, SHRINK=0 reports failing seeds unshrunk.
SEEDS ?= 100
FIRST ?= 0
SOAK_JOBS ?= 1
soak: setup
	$(PY) -m sim $(if $(SEED),--seed $(SEED) $(if $(KEEP),--keep $(KEEP)) $(if $(FAULTS),--faults $(FAULTS)),--seeds $(SEEDS) --first $(FIRST) --jobs $(SOAK_JOBS) $(if $(BUDGET),--budget $(BUDGET))) $(if $(filter 0,$(SHRINK)),--no-shrink)

clean:
	rm -rf instance .pytest_cache
