"""The production-like environment of a bench (``Profile``), and a bench's services set up and cleaned up.

The same environment serves the servers a bench starts and the bench's own
process, which seeds the data through Podium's services: DEBUG off, a fresh
SECRET_KEY, PostgreSQL and Redis on a database and a Redis DB of the bench's
own, the per-player score rate and the sign-in throttles raised out of the way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.lib.paths import remove_work_dir, work_dir
from bench.lib.postgres import ensure_database
from bench.lib.procs import interrupted_on

# High enough never to be what a benchmark measures; the bench says so in its output.
SCORE_RATE = "1000000/min"
KEY_SCORE_RATE = "1000000000/min"  # a game server's batches carry tens of thousands of scores a second
THROTTLE_RATE = "1000000/min"
JWT_ACCESS_MINUTES = 720
# Variables of the calling shell that would change what is measured.
CLEARED_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "RANKING_ENGINE",
    "RANKING_REDIS_URL",
    "CELERY_BROKER_URL",
    "JWT_SIGNING_KEY",
    "DB_CONN_MAX_AGE",
    "NUM_PROXIES",
    "API_MAX_BODY_BYTES",
    "DJANGO_SETTINGS_MODULE",
)


@dataclass(frozen=True)
class Profile:
    """The production-like environment shared by the server and the seeding process."""

    database_url: str
    redis_url: str
    settings_module: str = "leaderboard_project.settings"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50), repr=False)

    def environ(self) -> dict[str, str]:
        return {
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DEBUG": "false",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SCORE_RATE_PER_USER_GAME": SCORE_RATE,
            "SCORE_RATE_PER_API_KEY": KEY_SCORE_RATE,
            "THROTTLE_LOGIN_IP": THROTTLE_RATE,
            "THROTTLE_LOGIN_USERNAME": THROTTLE_RATE,
            "THROTTLE_REGISTER_IP": THROTTLE_RATE,
            "THROTTLE_REGISTER_USERNAME": THROTTLE_RATE,
            "JWT_ACCESS_MINUTES": str(JWT_ACCESS_MINUTES),
            "LOG_LEVEL": "INFO",
        }

    def server_environ(self) -> dict[str, str]:
        return cleared_environ() | self.environ()

    def described(self) -> dict[str, str]:
        """The environment as recorded in the results (the secret left out)."""
        return {key: value for key, value in self.environ().items() if key != "SECRET_KEY"} | {"SECRET_KEY": "(random)"}


def cleared_environ(cleared: tuple[str, ...] = CLEARED_ENV) -> dict[str, str]:
    """This process's environment without the variables that would change what is measured."""
    return {key: value for key, value in os.environ.items() if key not in cleared}


def check_dedicated_redis(url: str) -> str | None:
    """An error message when ``url`` is not a dedicated Redis DB (the bench flushes it)."""
    if urlsplit(url).path.strip("/") in ("", "0"):
        return "--redis-url must name a dedicated Redis DB other than 0: the bench flushes it"
    return None


def setup_django(profile: Profile) -> None:
    """Point this process's Django at the profile (DEBUG off: the debug cursor would record every statement)."""
    for key in CLEARED_ENV:
        os.environ.pop(key, None)
    os.environ.update(profile.environ())
    import django

    django.setup()


@contextlib.contextmanager
def bench_services(profile: Profile, *, name: str, keep_files: bool) -> Iterator[Path]:
    """The database (created if missing), Django set up on the profile, and a fresh ``bench/work/<name>``.

    On the way out, SIGTERM and SIGHUP included, the Redis DB is flushed and
    the work directory removed unless ``keep_files``.
    """
    ensure_database(profile.database_url)
    setup_django(profile)
    work = work_dir(name)
    with interrupted_on():
        try:
            yield work
        finally:
            import redis

            redis.Redis.from_url(profile.redis_url).flushdb()
            if not keep_files:
                remove_work_dir(work)
