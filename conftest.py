"""Shared fixtures, and how tests that need PostgreSQL or Redis are selected.

A test marked ``postgres``, ``redis`` or ``redis_cluster`` runs when that
service is configured (``DATABASE_URL`` / ``REDIS_URL`` / ``REDIS_CLUSTER_URL``,
one node of a Redis Cluster such as ``deploy/redis-cluster.sh start`` makes).
When it is not: outside CI it is skipped with the reason; under ``CI=true`` it
is deselected, because CI's other pass runs it, and
``PODIUM_REQUIRE_SERVICES=postgres,redis,redis_cluster`` (set by ``.ci/run``
for that pass) turns a missing service into an error instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

pytest_plugins = ["leaderboard_project.tests.browser"]

SERVICE_ENV = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "redis_cluster": "REDIS_CLUSTER_URL"}
REDIS_CLUSTER_URL = os.environ.get("REDIS_CLUSTER_URL", "")


def service_configured(name: str) -> bool:
    if name == "postgres":
        return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if name == "redis_cluster":
        return bool(REDIS_CLUSTER_URL)
    return bool(settings.REDIS_URL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = {name for name in os.environ.get("PODIUM_REQUIRE_SERVICES", "").split(",") if name}
    unknown = required - SERVICE_ENV.keys()
    if unknown:
        raise pytest.UsageError(f"PODIUM_REQUIRE_SERVICES names unknown services: {', '.join(sorted(unknown))}")
    missing = [name for name in sorted(required) if not service_configured(name)]
    if missing:
        raise pytest.UsageError(
            "Required services are not configured: "
            + ", ".join(f"{name} (set {SERVICE_ENV[name]})" for name in missing)
        )
    in_ci = os.environ.get("CI", "").lower() == "true"
    kept, deselected = [], []
    for item in items:
        unmet = [name for name in SERVICE_ENV if item.get_closest_marker(name) and not service_configured(name)]
        if not unmet:
            kept.append(item)
        elif in_ci:
            deselected.append(item)
        else:
            reason = ", ".join(f"{SERVICE_ENV[name]} is not set" for name in unmet)
            item.add_marker(pytest.mark.skip(reason=f"needs {'/'.join(unmet)}: {reason}"))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


_reachable: dict[str, bool] = {}


def _answers(name: str) -> bool:
    import redis
    from redis.cluster import RedisCluster
    from redis.exceptions import RedisClusterException

    try:
        if name == "redis_cluster":
            RedisCluster.from_url(REDIS_CLUSTER_URL, socket_connect_timeout=2).ping()
        else:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except (redis.RedisError, RedisClusterException):
        return False
    return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A configured Redis (or Redis Cluster) that does not answer is a failure, never a skip."""
    for name in ("redis", "redis_cluster"):
        if item.get_closest_marker(name) and service_configured(name):
            if name not in _reachable:
                _reachable[name] = _answers(name)
            if not _reachable[name]:
                pytest.fail(f"{SERVICE_ENV[name]}={os.environ.get(SERVICE_ENV[name])} is set but does not answer")


# The Redis indexes the index tests run against: the one server of REDIS_URL, and the cluster of REDIS_CLUSTER_URL.
REDIS_INDEXES = [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis_cluster", marks=pytest.mark.redis_cluster),
]


def redis_index_settings(kind: str) -> dict[str, object]:
    """The settings that make ``get_engine()`` the Redis index of that kind. On the cluster every write waits
    for one replica, as a deployment that must survive a failover would have it."""
    cluster = kind == "redis_cluster"
    return {
        "RANKING_ENGINE": "rankings.engine.redis.RedisEngine",
        "RANKING_REDIS_URL": REDIS_CLUSTER_URL if cluster else settings.REDIS_URL,
        "RANKING_REDIS_CLUSTER": cluster,
        "RANKING_REDIS_WAIT_REPLICAS": 1 if cluster else 0,
    }


@pytest.fixture(autouse=True, scope="session")
def _static_files_without_collectstatic():
    """Tests run the production settings (DEBUG off), whose static files are the hashed copies collectstatic
    writes and lists in a manifest; the suite does not run collectstatic, so pages link the source files."""
    from django.test import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(autouse=True, scope="session")
def _patient_ranking_index():
    """Tests flush Redis between cases; a flush of a large database may take longer than the production
    time-out after which reads fall back to the database, so tests wait longer."""
    from django.test import override_settings

    with override_settings(RANKING_REDIS_TIMEOUT=10.0):
        yield


@pytest.fixture(autouse=True)
def _fast_passwords_and_clean_cache(settings: object) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.JOBS_IN_PROCESS = False  # tests run background jobs themselves, when they mean to
    from accounts.selectors import player_names
    from games.selectors import games_cached
    from rankings.pagecache import pages

    cache.clear()  # throttle counters must not leak from one test into the next
    player_names.entries.clear()
    pages.clear()
    games_cached.clear()
    yield
    cache.clear()
    player_names.entries.clear()
    pages.clear()


@pytest.fixture
def tasks_in_process() -> Iterator[None]:
    """Celery tasks run in the test's process (eagerly, as in the embedded mode), whether or not a broker is
    configured."""
    from leaderboard_project.celery import app

    eager = app.conf.task_always_eager
    app.conf.update(task_always_eager=True)
    yield
    app.conf.update(task_always_eager=eager)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db: None) -> object:
    from accounts.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff(db: None) -> object:
    from accounts.tests.factories import UserFactory

    return UserFactory(is_staff=True)


@pytest.fixture
def client_for() -> Callable[[object], APIClient]:
    """An API client signed in as the given user with a real JWT."""
    from accounts.services import user_tokens

    def make(user: object) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {user_tokens(user=user)['access']}")
        return client

    return make


def _fresh_index() -> Iterator[object]:
    from django.utils import timezone

    from rankings import index
    from rankings.engine import get_engine

    engine = get_engine()
    if index.index_is_separate():
        engine.client.flushdb()
        engine.mark_complete(at=timezone.now())
    index.health.forget()
    yield engine
    index.health.forget()


@pytest.fixture
def ranking_index() -> Iterator[object]:
    """The configured ranking index, empty and marked complete, so that reads really use it."""
    yield from _fresh_index()


@pytest.fixture(params=REDIS_INDEXES)
def redis_index(request: pytest.FixtureRequest, settings: object) -> Iterator[object]:
    """Each Redis index (one server, a cluster) in turn as the ranking engine, empty and marked complete."""
    for name, value in redis_index_settings(request.param).items():
        setattr(settings, name, value)
    yield from _fresh_index()
