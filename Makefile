# Two commands: `make run` serves the demo, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
# pytest-xdist workers for `make test`: one per CPU (TEST_WORKERS=0 runs in this process).
TEST_WORKERS ?= auto
STAMP := $(VENV)/.installed-from-lock

.PHONY: install run test lint format lock browser bench-tools bench bench-api bench-scaleout messages clean

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "partnercenter needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@touch $@

install: $(STAMP)

run: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=1 $(BIN)/python manage.py seed_demo
	@echo
	@echo "  Open http://127.0.0.1:$(PORT)/ and sign in as one of the users above."
	@echo "  A task worker runs beside the server (large bulk changes, emails, webhooks); both stop with Ctrl-C."
	@echo
	@DJANGO_DEBUG=1 $(BIN)/python manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The browser tests drive the system's Chromium, the benchmarks drive wrk and HAProxy: Debian's
# packages, installed when missing and we can.
define apt_install
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; \
	else echo "No $(1) and no apt-get: $(2)"; exit 0; fi; \
	echo "Installing Debian's $(1)..."; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(1) >/dev/null
endef

browser:
	@test -x "$(CHROMIUM)" || $(MAKE) --no-print-directory _apt PACKAGE=chromium WHY="browser tests will be skipped."

bench-tools:
	@command -v wrk >/dev/null 2>&1 || $(MAKE) --no-print-directory _apt PACKAGE=wrk WHY="the benchmark cannot run."
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || $(MAKE) --no-print-directory _apt PACKAGE=haproxy WHY="make bench-scaleout cannot run."

_apt:
	$(call apt_install,$(PACKAGE),$(WHY))

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser bench-tools lint
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n $(TEST_WORKERS)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the translation catalogs from the code and compile them (needs GNU gettext).
LANGS := de nl hu ru zh_Hant
messages: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages --no-obsolete --no-location --no-wrap --ignore=.venv $(addprefix -l ,$(LANGS))
	DJANGO_DEBUG=1 $(BIN)/python manage.py compilemessages --ignore=.venv

# Re-pin every dependency after editing pyproject.toml.
lock: install
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

# Every page at a distributor's size, served by gunicorn, loaded by wrk (needs PostgreSQL):
# see bench/run.py. BENCH_ARGS=--smoke for a tiny world.
bench: install bench-tools
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The API's GET and PUT supportcontact beside a bare view under /v1/, at 10,000 customers (needs
# PostgreSQL): see bench/api.py. BENCH_ARGS=--smoke for a tiny world.
bench-api: install bench-tools
	$(BIN)/python -m bench.api $(BENCH_ARGS)

# Two gunicorn servers behind HAProxy on one PostgreSQL and one Redis: sign-in, throttling and
# concurrent Submits across both, throughput beside one server (see bench/scaleout.py).
bench-scaleout: install bench-tools
	$(BIN)/python -m bench.scaleout $(SCALEOUT_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
