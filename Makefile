# Two commands: `make run` serves the demo, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
STAMP := $(VENV)/.installed-from-lock

.PHONY: install run test lint format lock browser messages clean

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
	@echo
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The browser tests drive the system's Chromium; install Debian's package when we can.
browser:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; \
	else echo "No Chromium at $(CHROMIUM) and no apt-get: browser tests will be skipped."; exit 0; fi; \
	echo "Installing Debian's chromium for the browser tests..."; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser lint
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest

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

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
