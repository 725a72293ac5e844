"""Settings in both profiles, loaded in a fresh interpreter with a controlled environment."""

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connection

PROBE = """
import json, django
from django.conf import settings
from opentelemetry import trace
django.setup()
print(json.dumps({
    "debug": settings.DEBUG,
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "db_host": settings.DATABASES["default"].get("HOST", ""),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION", ""),
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "otel": settings.OTEL_EXPORTER_OTLP_ENDPOINT,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "tracer_provider": type(trace.get_tracer_provider()).__module__,
}))
"""


def load_settings(env: dict[str, str], probe: str = PROBE) -> subprocess.CompletedProcess:
    clean_env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=django_settings.BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_environment_runs_embedded():
    result = load_settings({})

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["db_engine"] == "django.db.backends.sqlite3"
    assert loaded["db_name"].endswith("podium.sqlite3")
    assert loaded["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert loaded["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert loaded["eager"] is True
    assert loaded["otel"] == ""
    assert not loaded["tracer_provider"].startswith("opentelemetry.sdk")


def test_production_environment_switches_every_piece():
    result = load_settings(
        {
            "DEBUG": "false",
            "SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://podium:pw@db.internal:5432/podium",
            "REDIS_URL": "redis://cache.internal:6379/1",
            "CELERY_BROKER_URL": "amqp://guest:guest@mq.internal:5672//",
            "ALLOWED_HOSTS": "podium.example.com,api.example.com",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        }
    )

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["debug"] is False
    assert loaded["db_engine"] == "django.db.backends.postgresql"
    assert loaded["db_host"] == "db.internal"
    assert loaded["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert loaded["cache_location"] == "redis://cache.internal:6379/1"
    assert loaded["channel_layer"].startswith("channels_redis.")
    assert loaded["eager"] is False
    assert loaded["broker"] == "amqp://guest:guest@mq.internal:5672//"
    assert loaded["allowed_hosts"] == ["podium.example.com", "api.example.com"]
    assert loaded["otel"] == "http://collector:4318"
    assert loaded["tracer_provider"].startswith("opentelemetry.sdk")
    assert loaded["session_cookie_secure"] is True
    assert loaded["hsts"] > 0


def test_broker_defaults_to_redis_url():
    result = load_settings({"REDIS_URL": "redis://127.0.0.1:6379/3"})

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["broker"] == "redis://127.0.0.1:6379/3"
    assert loaded["eager"] is False


def test_no_environment_runs_with_debug_off():
    result = load_settings({})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False


def test_without_secret_key_the_install_makes_its_own_once(tmp_path):
    from leaderboard_project.secret_key import install_secret_key

    key = install_secret_key(tmp_path / "var")

    assert len(key) >= 50 and not key.startswith("django-insecure")
    assert install_secret_key(tmp_path / "var") == key
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert install_secret_key(tmp_path / "other") != key


def test_without_secret_key_the_settings_use_the_installs_own(tmp_path):
    probe = "import django; from django.conf import settings; django.setup(); print(settings.SECRET_KEY)"
    clean_env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=django_settings.BASE_DIR, env=clean_env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (django_settings.DATA_DIR / "secret_key").read_text().strip()


def test_an_unwritable_data_directory_without_secret_key_refuses_to_start(tmp_path):
    from leaderboard_project.secret_key import install_secret_key

    (tmp_path / "var").write_text("a file where the directory should be")

    with pytest.raises(OSError):
        install_secret_key(tmp_path / "var")


def test_debug_off_with_a_published_development_key_refuses_to_start():
    published = "django-insecure-podium-development-key-never-use-in-production"

    result = load_settings({"DEBUG": "false", "SECRET_KEY": published})

    assert result.returncode != 0
    assert "published development key" in result.stderr


def test_env_example_documents_every_variable_settings_read():
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (django_settings.BASE_DIR / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("##")
    }
    source = (django_settings.BASE_DIR / "leaderboard_project" / "settings.py").read_text()

    read = set(re.findall(r'env\.\w+\("([A-Z_]+)"', source))

    assert read, "settings read no variables?"
    assert read - documented == set()


RESTART_PROBE = """
import json, os, django, psycopg
from django.db import close_old_connections, connection
django.setup()

def backend():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]

close_old_connections()  # a request starts
first = backend()
close_old_connections()  # it ends: the connection is kept
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as other:  # as a database restart would
    other.execute("SELECT pg_terminate_backend(%s)", [first])
close_old_connections()  # the next request starts
second = backend()  # the connection is checked first, so replaced rather than failing the query
print(json.dumps({"first": first, "second": second, "kept": connection.settings_dict["CONN_MAX_AGE"]}))
"""


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_kept_connection_a_database_restart_broke_is_replaced_without_failing_the_request():
    from urllib.parse import urlsplit, urlunsplit

    database = "/" + connection.settings_dict["NAME"]  # the test database
    test_database = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=database))
    result = subprocess.run(
        [sys.executable, "-c", RESTART_PROBE],
        cwd=django_settings.BASE_DIR,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings",
            "DATABASE_URL": test_database,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["kept"] == 60
    assert probe["second"] != probe["first"]


ASGI_GC_PROBE = """
import gc, json
import leaderboard_project.asgi
print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def load_asgi(env: dict[str, str]) -> subprocess.CompletedProcess:
    return load_settings(env, probe=ASGI_GC_PROBE)


@pytest.mark.parametrize(("value", "threshold"), [(None, [50_000, 20, 10]), ("2000,5,3", [2000, 5, 3])])
def test_the_asgi_server_freezes_its_start_up_and_sets_the_collector_thresholds(value, threshold):
    result = load_asgi({} if value is None else {"ASGI_GC_THRESHOLD": value})

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["threshold"] == threshold
    assert loaded["frozen"] > 10_000  # Django, the apps and the routing: out of every later collection


def test_an_empty_gc_threshold_keeps_the_interpreters_own():
    bare = subprocess.run(
        [sys.executable, "-c", "import gc, json; print(json.dumps(gc.get_threshold()))"],
        capture_output=True,
        text=True,
        check=True,
    )

    result = load_asgi({"ASGI_GC_THRESHOLD": ""})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["threshold"] == json.loads(bare.stdout)


@pytest.mark.parametrize("value", ["lots", "1,2,3,4", "-5"])
def test_a_gc_threshold_that_is_not_whole_numbers_refuses_to_start(value):
    result = load_asgi({"ASGI_GC_THRESHOLD": value})

    assert result.returncode != 0
    assert "ASGI_GC_THRESHOLD" in result.stderr
