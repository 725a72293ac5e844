"""``make serve``: the production profile on one machine that already runs PostgreSQL and Redis.

``python -m leaderboard_project.serve`` checks the environment (``DATABASE_URL`` and
``REDIS_URL`` are required; ``.env`` is read first, as honcho reads it for the
processes), fills in what one machine needs and the operator did not set, creates
the database when the server does not have it yet (a fresh PostgreSQL has only
``postgres``), applies the migrations, collects the static files, then hands over
to honcho, which runs the ``Procfile``: the WSGI server (HTTP and the pages), the
ASGI server (``/ws/``), the Celery worker and Celery beat, their logs interleaved
under their names.
Ctrl-C stops them all.

What it fills in, each only when unset:

* ``DEBUG=false``, and ``SECRET_KEY`` from ``var/secret_key`` (made once, readable by
  the owner only), so sessions outlive a restart;
* ``WEB_HOST=127.0.0.1``, ``WEB_PORT=$PORT`` (8000) and ``WS_PORT`` (``$PORT`` + 1), with the pages
  pointed at the WebSocket server (``PAGES_WEBSOCKET_URL=:$WS_PORT/ws/main``) and
  stress tests' spectators too (``STRESS_WS_URL``);
* plain-HTTP cookies (``SESSION_COOKIE_SECURE``/``CSRF_COOKIE_SECURE`` false) unless
  ``BEHIND_TLS_PROXY`` is set;
* ``PROMETHEUS_MULTIPROC_DIR=var/metrics``, emptied at each start: every process
  writes its metrics there and ``/metrics`` adds them up;
* ``CELERY_BEAT_SCHEDULE=var/celerybeat-schedule``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import environ

from leaderboard_project.secret_key import install_secret_key

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "var"
PROCFILE = PROJECT_DIR / "Procfile"
REQUIRED = ("DATABASE_URL", "REDIS_URL")


class ServeError(Exception):
    """Something the operator must fix before the profile can start; the message says what."""


def check_required(env: Mapping[str, str]) -> None:
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise ServeError(
            f"make serve runs the production profile and needs {' and '.join(missing)}.\n"
            "  Set them in the environment or in .env, for example:\n"
            "    DATABASE_URL=postgres://postgres@127.0.0.1:5432/podium REDIS_URL=redis://127.0.0.1:6379/0 make serve\n"
            "  (make demo runs Podium with neither.)"
        )
    if not env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise ServeError("make serve needs PostgreSQL: DATABASE_URL must be a postgres:// URL.")


def fill_defaults(env: MutableMapping[str, str]) -> None:
    """What one machine needs and the operator did not set (see the module's docstring)."""
    port = int(env.get("PORT") or 8000)
    env.setdefault("DEBUG", "false")
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = install_secret_key(DATA_DIR)
    env.setdefault("WEB_HOST", "127.0.0.1")
    env.setdefault("WEB_PORT", str(port))
    ws_port = env.setdefault("WS_PORT", str(port + 1))
    env.setdefault("PAGES_WEBSOCKET_URL", f":{ws_port}/ws/main")
    env.setdefault("STRESS_WS_URL", f"ws://127.0.0.1:{ws_port}/ws/main")
    if not env.get("BEHIND_TLS_PROXY"):
        env.setdefault("SESSION_COOKIE_SECURE", "false")
        env.setdefault("CSRF_COOKIE_SECURE", "false")
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(DATA_DIR / "metrics"))
    env.setdefault("CELERY_BEAT_SCHEDULE", str(DATA_DIR / "celerybeat-schedule"))


def _reset_metrics_dir(path: Path) -> None:
    """A dead process' counters must not be added to the new ones: start from an empty directory."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def _check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as error:
        raise ServeError(f"Redis at REDIS_URL does not answer ({error}). Start it, or fix REDIS_URL.") from None


def ensure_database(url: str) -> None:
    """Create the database ``url`` names when its server does not have it, as ``createdb`` would; says so.

    Asked of the server's ``postgres`` maintenance database: a connection to a database that does not exist
    fails with nothing but a (translated) message to tell it from any other failure.
    """
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    name = config["NAME"]
    if not name:
        raise ServeError("DATABASE_URL names no database: postgres://user@host:5432/podium")
    # Query options Django passes on to libpq (sslmode, ...); not its own (conn_max_age, ...).
    libpq_keywords = {option.keyword.decode() for option in psycopg.pq.Conninfo.get_defaults()}
    options = {key: value for key, value in config.get("OPTIONS", {}).items() if key in libpq_keywords}
    server = {
        **options,
        "host": config["HOST"] or None,
        "port": config["PORT"] or None,
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
        "connect_timeout": 5,
    }
    try:
        connection = psycopg.connect(dbname="postgres", autocommit=True, **server)
    except psycopg.OperationalError as error:
        said = " ".join(str(error).split())  # libpq's message runs over lines
        raise ServeError(f"cannot connect to PostgreSQL ({said}). Start it, or fix DATABASE_URL.") from None
    with connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        print(f'PostgreSQL has no database "{name}" yet; creating it', flush=True)
        try:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            pass  # another start created it in the meantime
        except psycopg.errors.InsufficientPrivilege:
            role = connection.info.user
            raise ServeError(
                f"the role {role} may not create databases. Create it as one that may "
                f"(createdb -O {shlex.quote(role)} {shlex.quote(name)}), or let this one: "
                f"ALTER ROLE {sql.Identifier(role).as_string(connection)} CREATEDB;"
            ) from None


def _manage(env: Mapping[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env)
    if result.returncode:
        raise ServeError(f"manage.py {' '.join(args)} failed (exit {result.returncode}); see above.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("processes", nargs="*", help="only these Procfile processes (web, ws, worker, beat)")
    args = parser.parse_args(argv)

    environ.Env.read_env(PROJECT_DIR / ".env")  # sets only what the environment does not have
    env = dict(os.environ)
    try:
        check_required(env)
        fill_defaults(env)
        _check_redis(env["REDIS_URL"])
        ensure_database(env["DATABASE_URL"])
        _reset_metrics_dir(Path(env["PROMETHEUS_MULTIPROC_DIR"]))
        _manage(env, "migrate", "--noinput")
        _manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    except ServeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    web = f"{env['WEB_HOST']}:{env['WEB_PORT']}"
    print(
        f"\n  Podium (production profile) is starting\n"
        f"    site       http://{web}/\n"
        f"    admin      http://{web}/admin/   (staff: manage.py createsuperuser)\n"
        f"    API docs   http://{web}/api/docs/\n"
        f"    metrics    http://{web}/metrics\n"
        f"    WebSocket  ws://{env.get('WS_HOST', '127.0.0.1')}:{env['WS_PORT']}/ws/main\n"
        f"  Ctrl-C stops every process.\n",
        flush=True,
    )
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"  # the Procfile's commands are the venv's
    # .env was read above, under what the environment sets; honcho would read it again over it.
    command = [str(bin_dir / "honcho"), "start", "--procfile", str(PROCFILE), "--env", os.devnull, *args.processes]
    os.chdir(PROJECT_DIR)
    os.execve(command[0], command, env)
    return 0  # not reached: honcho replaces this process


if __name__ == "__main__":
    sys.exit(main())
