"""Settings in both profiles, loaded in a fresh interpreter with a controlled environment."""

import json
import os
import re
import subprocess
import sys

from django.conf import settings as django_settings

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


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean_env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
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


def test_debug_off_without_secret_key_refuses_to_start():
    result = load_settings({"DEBUG": "false"})

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_off_with_the_development_secret_key_refuses_to_start():
    result = load_settings({"DEBUG": "false", "SECRET_KEY": django_settings.SECRET_KEY})

    assert result.returncode != 0
    assert "development default" in result.stderr


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
