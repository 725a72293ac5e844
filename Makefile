# Podium: `make demo` runs the embedded demo, `make test` runs the test suite,
# `make serve` runs the production profile against this machine's PostgreSQL and Redis.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: demo serve test venv venv-dev chromium clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Podium needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

# The pages' front-end libraries, exactly as package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Podium's pages need npm (Node.js): apt-get install npm"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

venv: $(VENV)/.runtime-installed node_modules/.installed
venv-dev: $(VENV)/.dev-installed node_modules/.installed

# The one place with development defaults (debug pages, plain static files): the embedded demo on 127.0.0.1.
demo: export DEBUG ?= true
demo: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py demo_admin
	$(BIN)/python manage.py populate_demo
	@$(BIN)/python -m leaderboard_project.demo --port $(PORT)

# The production profile: WSGI (HTTP) + ASGI (/ws/) + Celery worker + beat under honcho (see the Procfile).
# Needs DATABASE_URL and REDIS_URL; PORT (8000) for HTTP, WS_PORT (PORT+1) for WebSockets.
serve: venv
	@PORT=$(PORT) $(BIN)/python -m leaderboard_project.serve

# The page tests drive Debian's Chromium through Playwright (leaderboard_project/tests/browser.py): no test tool
# downloads a browser of its own. Installed here as root with apt-get; anyone else is told what to install.
CHROMIUM := /usr/bin/chromium
USER_ID = $(shell id -u)
APT_GET = $(shell command -v apt-get)

chromium:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ -z "$(APT_GET)" ]; then \
	  echo "make test needs Chromium for the page tests: install it as $(CHROMIUM)" >&2; exit 1; \
	elif [ "$(USER_ID)" != 0 ]; then \
	  echo "make test needs Chromium for the page tests: sudo apt-get install chromium" >&2; exit 1; \
	fi; \
	echo "$(CHROMIUM) is missing; installing Debian's chromium package (apt-get install chromium)"; \
	log=$$( { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } 2>&1 ) \
	  && [ -x $(CHROMIUM) ] \
	  || { { [ -z "$$log" ] || echo "$$log"; echo "could not install $(CHROMIUM)"; } >&2; exit 1; }

# chromium first: without a browser nothing else is worth setting up.
test: chromium venv-dev
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) staticfiles .pytest_cache node_modules
