"""The benches' own PostgreSQL databases: created if missing, or dropped and created afresh, and dropped at the end.

Each statement goes through the server's ``postgres`` database, as a
database cannot be created or dropped from a session connected to it.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger("bench.postgres")


def database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def admin_url(database_url: str) -> str:
    """The URL of the same server's ``postgres`` database."""
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


def admin(database_url: str, statement: str) -> None:
    """Run one statement (``CREATE DATABASE``, ``SELECT 1``...) on the server of ``database_url``."""
    import psycopg

    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(statement)


def ensure_database(database_url: str) -> None:
    """Create the bench database if it is missing."""
    import psycopg

    name = database_name(database_url)
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            logger.info("postgres: creating database %s", name)
            conn.execute(f'CREATE DATABASE "{name}"')


def recreate_database(database_url: str) -> None:
    """Drop and create the database; refused while any session is connected to it (another run uses it)."""
    import psycopg

    name = database_name(database_url)
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        sessions = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]).fetchone()[0]
        if sessions:
            raise RuntimeError(f"database {name} has {sessions} sessions: another soak run, or something else, uses it")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    logger.info("postgres: database %s created", name)


def drop_database(database_url: str) -> None:
    """Drop the database, ending the sessions still connected to it."""
    admin(database_url, f'DROP DATABASE IF EXISTS "{database_name(database_url)}" WITH (FORCE)')
    logger.info("postgres: database %s dropped", database_name(database_url))


def vacuum_analyze(database_url: str) -> float:
    """``VACUUM (ANALYZE)`` the whole database; returns the seconds it took.

    Freshly loaded tables get the statistics of a database in service: without
    them the first minutes' plans are made blind until autovacuum gets to the
    tables, and the latency of those minutes says so.
    """
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return round(time.monotonic() - started, 1)
