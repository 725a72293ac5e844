"""Podium settings, read from the environment only.

With no environment at all Podium runs embedded: SQLite file, in-memory channel
layer, local-memory cache, background jobs in-process. Each variable below
switches on one piece of the production profile (see ``.env.example``).
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE  # the marker django-csp replaces with the request's nonce
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from leaderboard_project.secret_key import install_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "var"

env = environ.Env()

# Off unless asked for: `make demo` asks (DEBUG=true), nothing else does.
DEBUG = env.bool("DEBUG", default=False)

# Given, or this install's own (leaderboard_project.secret_key): never a key anyone else knows.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    try:
        SECRET_KEY = install_secret_key(DATA_DIR)
    except OSError as error:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and this install's own key could not be kept in {DATA_DIR} ({error}). "
            "Set SECRET_KEY to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        ) from None
elif SECRET_KEY.startswith("django-insecure") and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY is a published development key. Set a secret of your own.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Service URLs. Each one that is set switches on its piece of the production profile.
DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
# Tracing (common.tracing): spans of every process go over OTLP/HTTP to this collector when it is set.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="podium")

# Who may read /metrics (leaderboard_project.metrics_view): client addresses or networks (REMOTE_ADDR, never
# X-Forwarded-For), and a token sent as "Authorization: Bearer <token>". With neither, /metrics is open while
# DEBUG is on and answers only 127.0.0.1 and ::1 when it is off.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

INSTALLED_APPS = [
    "daphne",
    "leaderboard_project.apps.PodiumAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "django_prometheus",
    "leaderboard_project.apps.PodiumConfig",
    "accounts",
    "games",
    "rankings",
    "scores",
    "realtime",
    "tournaments",
    "leagues",
    "simulator",
    "dashboard",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "leaderboard_project.health.ProbesMiddleware",
    # The plain form of the hottest API requests, answered without the rest (hotpath.py).
    "common.hotpath.HotPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "common.errors.ApiJsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "leaderboard_project.urls"
WSGI_APPLICATION = "leaderboard_project.wsgi.application"
ASGI_APPLICATION = "leaderboard_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "common.pages.site",
            ],
        },
    },
]

# Database: SQLite file when DATABASE_URL is unset, else what it names (PostgreSQL through psycopg 3, or SQLite).
# SQLite writers queue instead of failing with "database is locked" when background
# jobs (simulations, stress tests, the beat thread) write next to the web process.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
}
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
        # A kept connection is checked when a request first uses it (one round trip), so one a database restart
        # broke is replaced instead of failing the request: the web server keeps one per thread (WEB_THREADS),
        # and a restart would otherwise fail a request on each. Submissions pay it once per group.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATA_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "podium.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
            # Tests use a file too, not SQLite's shared in-memory database: the page tests' server threads and
            # the test itself use the database at once, and only a file gives them WAL and the busy timeout.
            # One file per test run, so two runs side by side do not share it.
            "TEST": {"NAME": DATA_DIR / f"test_podium_{os.getpid()}.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (throttling, shared counters): local memory, or Redis when REDIS_URL is set.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "podium",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "podium"}}

# Channel layer: in-memory (one process) or channels-redis (any number of processes).
# Each server process subscribes once per channel and fans out itself (realtime.hub), so the layer carries one
# message per event and server. The pub/sub layer is the default; "core" selects channels-redis' list-based one.
REALTIME_CHANNEL_LAYER = env.str("REALTIME_CHANNEL_LAYER", default="pubsub")
# The layer's Redis servers, comma-separated: channels are spread over them by name. The pub/sub layer only
# publishes and subscribes, so these may be nodes of a Redis Cluster, which carries every message to all nodes.
REALTIME_REDIS_URLS = env.list("REALTIME_REDIS_URLS", default=[REDIS_URL] if REDIS_URL else [])
if REALTIME_REDIS_URLS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": {
                "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "core": "channels_redis.core.RedisChannelLayer",
            }[REALTIME_CHANNEL_LAYER],
            # The core layer blocks on BZPOPMIN for 5 s; redis-py's own 5 s socket time-out would cut it off.
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": 30} for url in REALTIME_REDIS_URLS]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# WebSockets (/ws/main): limits per connection, and how often a board sends leaderboard.updated.
REALTIME_MAX_SUBSCRIPTIONS = 50
REALTIME_MAX_FRAME_BYTES = 4096
REALTIME_CLIENT_FRAMES_PER_SECOND = env.float("REALTIME_CLIENT_FRAMES_PER_SECOND", default=10.0)
REALTIME_CLIENT_FRAME_BURST = env.int("REALTIME_CLIENT_FRAME_BURST", default=20)
REALTIME_CLIENT_BUFFER = env.int("REALTIME_CLIENT_BUFFER", default=1000)  # events queued for one client
REALTIME_BOARD_INTERVAL = env.float("REALTIME_BOARD_INTERVAL", default=0.25)  # seconds between a board's updates
# Events of a channel arriving within one tick travel to each client as one frame: fewer, larger writes.
REALTIME_TICK_SECONDS = env.float("REALTIME_TICK_SECONDS", default=0.05)
# Seconds between the probes a server sends itself through the channel layer, to learn that it lost events.
REALTIME_LAYER_PROBE_SECONDS = env.float("REALTIME_LAYER_PROBE_SECONDS", default=1.0)
REALTIME_BOARD_TOP = 20  # the dashboard shows a board's top 20 live
REALTIME_BOARD_MOVED = 20

# The ASGI server's garbage collector (leaderboard_project/asgi.py): up to three thresholds for gc.set_threshold,
# empty for Python's own (700, 10, 10 on 3.11). At 700 allocations a young collection catches the frames and events
# still in flight and moves them to the old generation, whose full collections then walk every connection's objects:
# 0.6 s at 5,000 clients on one process, a pause every client sees. A first threshold of 50,000 lets them die young.
_gc_threshold = env.list("ASGI_GC_THRESHOLD", default=["50000", "20", "10"])
if len(_gc_threshold) > 3 or not all(value.strip().isdigit() for value in _gc_threshold):
    raise ImproperlyConfigured("ASGI_GC_THRESHOLD: at most three whole numbers, 0 or more (e.g. 50000,20,10).")
ASGI_GC_THRESHOLD = [int(value) for value in _gc_threshold]

# Ranking engine: the standings table (SQL) embedded; Redis sorted sets as the index when REDIS_URL is set.
RANKING_ENGINE = env.str(
    "RANKING_ENGINE",
    default="rankings.engine.redis.RedisEngine" if REDIS_URL else "rankings.engine.sql.SqlEngine",
)
RANKING_REDIS_URL = env.str("RANKING_REDIS_URL", default="") or REDIS_URL
# RANKING_REDIS_URL names one node of a Redis Cluster: the index spreads its boards over the cluster's primaries.
RANKING_REDIS_CLUSTER = env.bool("RANKING_REDIS_CLUSTER", default=False)
# Replicas that must hold each index write before it counts as done (Redis WAIT), so that a failover keeps it;
# a write fewer replicas acknowledge marks its boards stale, to be rebuilt from the table. 0: do not wait.
RANKING_REDIS_WAIT_REPLICAS = env.int("RANKING_REDIS_WAIT_REPLICAS", default=0)
# Players one sorted set of the index holds before its board is cut by value into ranges on slots of their own
# (rankings/engine/ranges.py): a board larger than one Redis node should hold. 0: every board is one sorted set.
RANKING_REDIS_RANGE_SIZE = env.int("RANKING_REDIS_RANGE_SIZE", default=0)
# Seconds a ranking-index call may take before reads fall back to the database.
RANKING_REDIS_TIMEOUT = env.float("RANKING_REDIS_TIMEOUT", default=0.5)
RANKING_INDEX_RETRY_SECONDS = 2.0
RANKING_INDEX_RECHECK_SECONDS = 1.0
# The final standings of an ended daily, weekly or monthly board are kept this many days after its period ended
# (read with ?period=...&at=...), then deleted by the archive-prune task; 0 keeps them for ever.
RANKING_ARCHIVE_DAYS = env.int("RANKING_ARCHIVE_DAYS", default=0)

# Seconds a server process keeps player names for boards (a rename shows on other processes' boards this late).
PLAYER_NAME_CACHE_SECONDS = env.int("PLAYER_NAME_CACHE_SECONDS", default=10)
# How long a server process keeps a game's row for score submits and board reads (games.selectors._GameCache).
GAME_CACHE_SECONDS = env.int("GAME_CACHE_SECONDS", default=5)

# The review queue (scores.services.review): a scan every MODERATION_SCAN_SECONDS flags stored scores that are
# better than their game's recent median by more than MODERATION_OUTLIER_SIGMAS times the scores' spread (once
# the game has MODERATION_MIN_SAMPLES of its last MODERATION_STATS_SAMPLE scores within MODERATION_STATS_DAYS;
# read again every MODERATION_STATS_SECONDS), came
# less than MODERATION_MIN_SECONDS after the player's previous score on the game, or are past the
# MODERATION_MAX_PER_HOUR-th within an hour. 0 turns a check off. The scan reads scores up to
# MODERATION_SCAN_SETTLE_SECONDS old (transactions still open then are committed), MODERATION_SCAN_BATCH a pass.
MODERATION_SCAN_SECONDS = env.float("MODERATION_SCAN_SECONDS", default=10.0)
MODERATION_SCAN_SETTLE_SECONDS = env.float("MODERATION_SCAN_SETTLE_SECONDS", default=10.0)
MODERATION_SCAN_BATCH = env.int("MODERATION_SCAN_BATCH", default=2000)
MODERATION_OUTLIER_SIGMAS = env.float("MODERATION_OUTLIER_SIGMAS", default=4.0)
MODERATION_MIN_SAMPLES = env.int("MODERATION_MIN_SAMPLES", default=50)
MODERATION_STATS_DAYS = env.int("MODERATION_STATS_DAYS", default=30)
MODERATION_STATS_SAMPLE = env.int("MODERATION_STATS_SAMPLE", default=10000)
MODERATION_STATS_SECONDS = env.int("MODERATION_STATS_SECONDS", default=3600)
MODERATION_MIN_SECONDS = env.float("MODERATION_MIN_SECONDS", default=2.0)
MODERATION_MAX_PER_HOUR = env.int("MODERATION_MAX_PER_HOUR", default=120)

# Scores one player may submit for one game, per window (N/s, N/min, N/10s, ...).
SCORE_RATE_PER_USER_GAME = env.str("SCORE_RATE_PER_USER_GAME", default="60/min")
# Scores one game server's API key may submit per window, over POST /scores and /scores/batch together. A batch
# counts its scores, not one request, so the limit means the same whether a server sends them one by one or in
# batches; a refused batch counts too, and stores nothing.
SCORE_RATE_PER_API_KEY = env.str("SCORE_RATE_PER_API_KEY", default="6000/min")
# Most players' submissions a server process stores in one transaction when they arrive together (group commit,
# scores.groupcommit); 1 stores each alone.
SCORE_GROUP_MAX = env.int("SCORE_GROUP_MAX", default=64)
# From this many scores of one game and day on (a game server's batch), PostgreSQL merges them into the standings
# in one statement (rankings.services.merge) instead of Python reading the rows and writing those that move.
STANDINGS_MERGE_MIN_SCORES = env.int("STANDINGS_MERGE_MIN_SCORES", default=100)
# Seconds a rate-limit counter may take in Redis before the limit is skipped (fails open).
RATE_LIMIT_REDIS_TIMEOUT = 0.5

# Tournaments: the longest a tournament may last, the largest prize pool (credits), how often the
# lifecycle clock runs (Celery beat, or a thread of the server in embedded mode) and how many
# tournaments one tick moves per step.
TOURNAMENT_MAX_DAYS = env.int("TOURNAMENT_MAX_DAYS", default=31)
TOURNAMENT_MAX_PRIZE_POOL = env.int("TOURNAMENT_MAX_PRIZE_POOL", default=10**12)
TOURNAMENT_TICK_SECONDS = env.float("TOURNAMENT_TICK_SECONDS", default=5.0)
TOURNAMENT_TICK_BATCH = 100

# Background jobs: Celery workers when a broker is configured, else run in-process.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Without a broker, a thread of the server runs CELERY_BEAT_SCHEDULE (started by the first request).
JOBS_IN_PROCESS = env.bool("JOBS_IN_PROCESS", default=CELERY_TASK_ALWAYS_EAGER)
# Background simulations and stress tests (/api/v1/simulator/...): a thread of the server process without a
# broker (an eager task would hold the request for the whole run), else a Celery task.
SIMULATION_IN_PROCESS = env.bool("SIMULATION_IN_PROCESS", default=CELERY_TASK_ALWAYS_EAGER)
# Stress tests (POST /api/v1/simulator/stress-tests): the base URL locust targets; empty: the request's own.
STRESS_TARGET_URL = env.str("STRESS_TARGET_URL", default="")
# The WebSocket URL a stress test's spectators open; empty: the target's own /ws/main (right behind the proxy).
STRESS_WS_URL = env.str("STRESS_WS_URL", default="")
# Where the pages open their WebSocket: a path on this origin (the proxy routes /ws/ to the ASGI servers),
# ":port/path" for this page's host on another port (make serve), or a full ws:// or wss:// URL.
PAGES_WEBSOCKET_URL = env.str("PAGES_WEBSOCKET_URL", default="/ws/main")
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    # Eager tasks still take a producer from the broker's pool; a URL without a host makes kombu log
    # "No hostname was supplied" on the first one. The in-memory transport ignores the host.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# Workers log through LOGGING (JSON in production, with trace ids) instead of Celery's own handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A worker serves its metrics on this port when set (in a container, where no web process shares its
# PROMETHEUS_MULTIPROC_DIR), on CELERY_METRICS_ADDR (loopback unless set).
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
CELERY_METRICS_ADDR = env.str("CELERY_METRICS_ADDR", default="127.0.0.1")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "rankings-heal": {"task": "rankings.tasks.rankings_heal", "schedule": 15.0},
    "tournaments-tick": {"task": "tournaments.tasks.tournaments_tick", "schedule": TOURNAMENT_TICK_SECONDS},
    "sessions-prune": {"task": "scores.tasks.sessions_prune", "schedule": 3600.0},
    "archive-prune": {"task": "rankings.tasks.archive_prune", "schedule": 3600.0},
    "review-scan": {"task": "scores.tasks.review_scan", "schedule": MODERATION_SCAN_SECONDS},
    "leagues-tick": {"task": "leagues.tasks.leagues_tick", "schedule": TOURNAMENT_TICK_SECONDS},
}

AUTH_USER_MODEL = "accounts.User"
# Email is deliberately not compared with the password: a password that shares
# a word with the email domain ("demo123" for player1@demo.com) is still accepted.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "display_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=6)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The pages' own files, and the front-end libraries npm installs from package-lock.json (``make`` runs ``npm ci``).
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist")]
STATIC_ROOT = BASE_DIR / "staticfiles"
# collectstatic keeps only the hashed names the pages link to, and does not compress source maps (half the bytes,
# read by nobody but a developer's browser): a fifth of the time it took.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Request bodies: anything larger is refused with 413 before it is parsed.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "accounts.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": [
        "common.parsers.BoundedJSONParser",
        # Forms for the browsable API; no endpoint takes file uploads, so no multipart.
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.OffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "common.schema.AutoSchema",
    "EXCEPTION_HANDLER": "common.errors.api_exception_handler",
    # The client address is REMOTE_ADDR unless NUM_PROXIES trusted proxies sit in front.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "login.ip": env.str("THROTTLE_LOGIN_IP", default="60/min"),
        "login.username": env.str("THROTTLE_LOGIN_USERNAME", default="10/min"),
        "register.ip": env.str("THROTTLE_REGISTER_IP", default="30/min"),
        "register.username": env.str("THROTTLE_REGISTER_USERNAME", default="10/min"),
        # One account's sign-in attempts from every address together (the username key counts one address).
        "login.account": env.str("THROTTLE_LOGIN_ACCOUNT", default="100/hour"),
        # Changes of one's own profile (PATCH /users/me): a taken email is named, so they are limited.
        "profile": env.str("THROTTLE_PROFILE", default="20/hour"),
        # Tournaments one player may create (staff are not limited).
        "tournament_create": env.str("THROTTLE_TOURNAMENT_CREATE", default="20/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUDIENCE": "podium",
    "ISSUER": "podium",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Podium API",
    "DESCRIPTION": "Real-time leaderboards and tournaments for games.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TournamentStatusEnum": "tournaments.models.Status",
        "BatchOutcomeStatusEnum": ["created", "duplicate", "rejected"],
        "LeaguePeriodEnum": "leagues.models.PERIODS",
    },
}

# Security. Production (DEBUG off) gets secure cookies and HSTS by default.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
# Off by default, each a deliberate choice of whoever runs the site (manage.py check --deploy warns about them):
# whatever terminates TLS in front redirects plain HTTP (the health probes and the proxy's own requests are plain
# HTTP), and HSTS for every subdomain, or on browsers' preload list, binds the whole domain, which Podium cannot know.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)


def _websocket_sources(url: str, hosts: list[str]) -> list[str]:
    """The connect-src sources PAGES_WEBSOCKET_URL needs beyond 'self' (which covers ws: and wss: on this origin).

    ":port/path" is the page's own host on another port: each of ALLOWED_HOSTS on that port. CSP cannot name an
    IPv6 literal, so a page opened at one needs PAGES_WEBSOCKET_URL as a full URL.
    """
    if url.startswith(("ws://", "wss://")):
        scheme, _, rest = url.partition("://")
        return [f"{scheme}://{rest.split('/', 1)[0]}"]
    if not url.startswith(":"):
        return []
    port = url[1:].split("/", 1)[0]
    names: list[str] = []
    for host in hosts:
        if host.startswith("["):
            continue
        names += [host[1:], f"*{host}"] if host.startswith(".") else [host]
    return [f"{scheme}://{name}:{port}" for name in names for scheme in ("ws", "wss")]


# Content-Security-Policy on every response (django-csp). Scripts and styles come from this origin only. The
# inline blocks of the API docs (Swagger UI's start-up) and of the browsable API (its code colours) carry the
# request's nonce (templates/drf_spectacular/, templates/rest_framework/). Style attributes are allowed: DRF's
# templates use them, and an attribute can neither run a script nor load from another origin. Images may be
# data: URLs (Swagger UI's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", *_websocket_sources(PAGES_WEBSOCKET_URL, ALLOWED_HOSTS)],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# The staff account ``make demo`` creates or updates.
DEMO_ADMIN_USER = env.str("DEMO_ADMIN_USER", default="admin")
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="")

# How often an API key's last-used time is written at most (one UPDATE per window).
API_KEY_LAST_USED_RESOLUTION = timedelta(seconds=60)

# Logs on stderr: plain lines while developing, one JSON object a line in production (DEBUG off), with the
# trace and span ids of the request or task that logged (common.logs). LOG_FORMAT forces either.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"trace_context": {"()": "common.logs.TraceContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["trace_context"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task received and succeeded (the clock ticks every few seconds): failures still show.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}
