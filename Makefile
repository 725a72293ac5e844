# Podium: `make demo` runs the embedded demo, `make test` runs the test suite,
# `make serve` runs the production profile against this machine's PostgreSQL and Redis.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: demo serve test venv venv-dev clean

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

demo: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py demo_admin
	$(BIN)/python manage.py populate_demo
	@echo
	@echo "  Podium is starting on http://127.0.0.1:$(PORT)/"
	@echo "    site      http://127.0.0.1:$(PORT)/"
	@echo "    admin     http://127.0.0.1:$(PORT)/admin/"
	@echo "    API docs  http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  Ctrl-C stops it."
	@echo
	$(BIN)/daphne -b 127.0.0.1 -p $(PORT) leaderboard_project.asgi:application

# The production profile: WSGI (HTTP) + ASGI (/ws/) + Celery worker + beat under honcho (see the Procfile).
# Needs DATABASE_URL and REDIS_URL; PORT (8000) for HTTP, WS_PORT (PORT+1) for WebSockets.
serve: venv
	@PORT=$(PORT) $(BIN)/python -m leaderboard_project.serve

test: venv-dev
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) staticfiles .pytest_cache node_modules
