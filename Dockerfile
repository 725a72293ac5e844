# syntax=docker/dockerfile:1
# Podium's image: one image for every process of the Procfile (web, ws, worker, beat) and for manage.py.
#   docker build -t podium .
#   docker run -e SECRET_KEY=... podium          the web process (WSGI, port 8000)
#   docker run -e SECRET_KEY=... podium ws       the ASGI process (/ws/, port 8001); also: worker, beat
#   docker run -e SECRET_KEY=... podium python manage.py migrate
# docker-compose.yml runs them all with PostgreSQL, Redis and the observability services.

# Base images, pinned by tag. The build and the final stage share the Python base, so the
# virtualenv built in one runs unchanged in the other.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG NODE_IMAGE=node:20.18.1-bookworm-slim

# --- The pages' front-end libraries, exactly as package-lock.json pins them ---
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# --- The virtualenv, the code and the collected static files ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
# Requirements first: the virtualenv layer is rebuilt only when they change.
# requirements.txt applies constraints.txt (-c), which pins every package it pulls in.
COPY requirements.txt constraints.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -r requirements.txt
COPY . .
COPY --from=assets /src/node_modules ./node_modules
# The production storage (DEBUG off) writes the hashed, compressed files and their manifest. Settings
# refuse to load without a secret when DEBUG is off: a throwaway one, for this command only.
RUN DEBUG=false SECRET_KEY=collectstatic-only-not-a-secret \
    python manage.py collectstatic --noinput --verbosity 0

# --- What runs: no compilers, no build tools, not root ---
FROM ${PYTHON_IMAGE} AS runtime
# Production unless told otherwise: without SECRET_KEY the settings refuse to start. The servers listen on
# every interface of the container (the Procfile's defaults, 127.0.0.1, suit one machine, not a container).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics \
    DEBUG=false \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8000 \
    WS_HOST=0.0.0.0
RUN groupadd --system --gid 10001 podium \
    && useradd --system --uid 10001 --gid podium --create-home --home-dir /home/podium \
       --shell /usr/sbin/nologin podium
COPY --from=build /opt/venv /opt/venv
# The code, the front-end libraries and /app/staticfiles, owned by root: the app cannot change itself.
COPY --from=build /app /app
WORKDIR /app
# var/ is the one place the app writes to (Celery beat's schedule, the demo admin's password).
RUN mkdir -p /app/var && chown podium:podium /app/var
USER podium
EXPOSE 8000 8001 9808
# The web process' liveness; compose gives the ws process its own (port 8001) and worker and beat none.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# Empties the metrics directory, then runs the Procfile process named by the command (or any command).
ENTRYPOINT ["/bin/sh", "/app/deploy/entrypoint.sh"]
CMD ["web"]
