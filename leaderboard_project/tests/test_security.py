"""What production answers with: HTTPS-only cookies, HSTS, the security headers and the Content-Security-Policy;
the deployment checks Django runs; the policy in a real browser on the pages Podium does not write itself (API
docs, browsable API, admin); and no secret committed to the repository.

Already covered elsewhere: DEBUG off by default, a secret key of the install's own and a published one refused
(test_settings.py), CSRF on the session forms and session API
writes (accounts/tests/test_session.py, accounts/tests/test_pages.py::test_registering_needs_the_csrf_token,
test_errors.py::test_a_csrf_failure_under_api_is_403_json), and the policy on Podium's own pages (every page
test fails on a console error, which a CSP violation is).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from leaderboard_project.tests.browser import sign_in

BASE_DIR = Path(django_settings.BASE_DIR)
PRODUCTION_ENV = {"DEBUG": "false", "SECRET_KEY": "s3cUr1ty-" + "q" * 50, "ALLOWED_HOSTS": "podium.example.com"}

SECURITY_SETTINGS = (
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "X_FRAME_OPTIONS",
)
PROBE = f"""
import json, django
from django.conf import settings
django.setup()
names = {SECURITY_SETTINGS!r}
print(json.dumps({{
    **{{name: getattr(settings, name) for name in names}},
    "MIDDLEWARE": settings.MIDDLEWARE,
    "CSP": {{k: [str(v) for v in vs] for k, vs in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].items()}},
}}))
"""

# Warnings of ``manage.py check --deploy`` in the production profile, each accepted on purpose; each goes away
# when its setting is turned on (see the "# Security." section of settings.py).
ACCEPTED_DEPLOY_WARNINGS = {
    "security.W005": "SECURE_HSTS_INCLUDE_SUBDOMAINS: HSTS for every subdomain is the domain owner's choice",
    "security.W008": "SECURE_SSL_REDIRECT: whatever terminates TLS in front redirects plain HTTP",
    "security.W021": "SECURE_HSTS_PRELOAD: the browsers' preload list is the domain owner's choice",
}

STRICT_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean_env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings", **env}
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=clean_env, capture_output=True, text=True, timeout=120
    )


def production_settings(**env: str) -> dict:
    result = run_python(["-c", PROBE], {**PRODUCTION_ENV, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def policy_of(response) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    }


@pytest.fixture(scope="module")
def production() -> dict:
    return production_settings()


@pytest.fixture
def in_production(production, settings):
    """The production profile's security settings, in this process (whose test settings are the embedded ones)."""
    assert production["MIDDLEWARE"] == settings.MIDDLEWARE
    for name in SECURITY_SETTINGS:
        setattr(settings, name, production[name])


# The production profile's settings


def test_production_turns_on_secure_cookies_hsts_and_the_security_headers(production):
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["CSRF_COOKIE_SECURE"] is True
    assert production["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert production["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert production["SECURE_REFERRER_POLICY"] == "same-origin"
    assert production["X_FRAME_OPTIONS"] == "DENY"
    assert "csp.middleware.CSPMiddleware" in production["MIDDLEWARE"]


def test_the_policy_lets_the_pages_reach_a_websocket_server_on_another_port_of_their_host():
    loaded = production_settings(
        PAGES_WEBSOCKET_URL=":8001/ws/main", ALLOWED_HOSTS="podium.example.com,.example.org,[::1]"
    )

    assert loaded["CSP"]["connect-src"] == [
        "'self'",
        "ws://podium.example.com:8001",
        "wss://podium.example.com:8001",
        "ws://example.org:8001",
        "wss://example.org:8001",
        "ws://*.example.org:8001",
        "wss://*.example.org:8001",
    ]


def test_the_policy_lets_the_pages_reach_a_websocket_server_named_by_its_url():
    loaded = production_settings(PAGES_WEBSOCKET_URL="wss://live.example.com/ws/main")

    assert loaded["CSP"]["connect-src"] == ["'self'", "wss://live.example.com"]


def test_check_deploy_warns_only_about_what_is_accepted_on_purpose():
    result = run_python(["manage.py", "check", "--deploy"], PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    warned = set(re.findall(r"\((security\.W\d+)\)", result.stdout + result.stderr))
    assert warned == set(ACCEPTED_DEPLOY_WARNINGS), result.stdout + result.stderr


def test_check_deploy_is_clean_once_the_accepted_settings_are_turned_on():
    env = {**PRODUCTION_ENV, "SECURE_SSL_REDIRECT": "true", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true"}
    result = run_python(["manage.py", "check", "--deploy"], {**env, "SECURE_HSTS_PRELOAD": "true"})

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


# What production answers with


@pytest.mark.django_db
def test_an_https_page_carries_hsts_and_the_security_headers(in_production):
    response = Client().get("/", secure=True)

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_a_page_carries_the_strict_content_security_policy(in_production):
    assert policy_of(Client().get("/", secure=True)) == STRICT_POLICY


@pytest.mark.django_db
def test_api_answers_carry_the_security_headers_too(in_production):
    response = Client().get("/api/v1/games", secure=True, HTTP_ACCEPT="application/json")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    assert policy_of(response)["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_csrf_cookie_of_a_form_is_https_only(in_production):
    cookie = Client().get("/accounts/login/", secure=True).cookies[django_settings.CSRF_COOKIE_NAME]

    assert cookie["secure"] is True
    assert cookie["samesite"] == "Lax"


@pytest.mark.django_db
def test_the_session_cookie_of_a_sign_in_is_https_only_and_hidden_from_scripts(in_production):
    user = UserFactory()

    response = Client().post("/accounts/login/", {"username": user.username, "password": DEFAULT_PASSWORD}, secure=True)

    assert response.status_code == 302
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "accept", "tag"),
    [("/api/docs/", "text/html", "script"), ("/api/v1/games", "text/html", "style")],
    ids=["api-docs", "browsable-api"],
)
def test_an_inline_block_carries_the_nonce_its_policy_allows(path, accept, tag):
    response = Client().get(path, HTTP_ACCEPT=accept)

    nonce = re.search(rf"<{tag} nonce=\"([^\"]+)\"", response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in policy_of(response)[f"{tag}-src"]


@pytest.mark.django_db
def test_a_page_without_an_inline_block_gets_no_nonce():
    policy = policy_of(Client().get("/"))

    assert not [value for values in policy.values() for value in values if value.startswith("'nonce-")]


# The policy in Chromium, on the pages of Django, DRF and drf-spectacular (the page fixture fails the test on
# any console error, which a CSP violation is).


def test_the_api_docs_render_swagger_ui_under_the_policy(page, site):
    response = page.goto(site("/api/docs/"))

    assert "'nonce-" in response.headers["content-security-policy"]
    page.locator(".swagger-ui .info .title", has_text="Podium API").wait_for()
    batch = page.locator(".opblock-post", has=page.locator(".opblock-summary-path", has_text="/api/v1/scores/batch"))
    batch.locator(".opblock-summary").click()
    batch.locator(".opblock-body").wait_for()


def test_the_browsable_api_renders_and_signs_out_under_the_policy(page, site):
    sign_in(page, site, UserFactory(is_staff=True))
    page.goto(site("/api/v1/games"))
    page.locator(".response-info").wait_for()

    page.locator("button", has_text="Log out").click()

    page.locator("a", has_text="Log in").wait_for()


def test_the_admin_renders_under_the_policy(page, site):
    sign_in(page, site, UserFactory(is_staff=True, is_superuser=True))

    page.goto(site("/admin/"))
    page.locator("#site-name").wait_for()
    # The admin names no icon; the browser's guess, /favicon.ico, leads to Podium's.
    assert page.request.get(site("/favicon.ico")).headers["content-type"].startswith("image/svg")
    page.goto(site("/admin/tournaments/tournament/add/"))
    page.locator("#tournament_form").wait_for()


# No secret in the repository

KEY_MATERIAL = {
    "private key": re.compile(r"-{5}BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-{5}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[opsur]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Stripe live key": re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}\b"),
}
# A name that says secret, given a literal: SECRET_KEY = "...", "password": "...", JWT_SIGNING_KEY=...
SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b\w*(?:secret|passw(?:or)?d|token|api_?key|signing_key|access_key|private_key)\w*[\"']?\s*[:=]\s*"
    r"(?:([\"'])(?P<quoted>[^\"'\n]*)\1|(?P<bare>[A-Za-z0-9_\-+/=.~]+)(?=\s|$|,))",
    re.MULTILINE,
)
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:(?P<password>[^@/\s\"']+)@")
KEY_FILE_NAMES = re.compile(r"(^|/)(id_(rsa|dsa|ecdsa|ed25519)|[^/]*\.(p12|pfx|jks|keystore))$")
ENV_FILE = re.compile(r"(^|/)(\.env(\.[^/]+)?|[^/]+\.env)$")
ENV_TEMPLATES = {".env.example", ".env.sample", ".env.template"}


def looks_random(value: str) -> bool:
    """A generated secret, not a word, a placeholder or a documented example ("pw", "guest", "demo123").

    Long, mixing letters and digits, and close to random per character: ``secrets.token_urlsafe(50)`` and
    ``token_hex(32)`` pass; the marked development key and the test fixtures' passwords do not.
    """
    if len(value) < 20 or not re.search(r"[A-Za-z]", value) or not re.search(r"\d", value):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5


def secrets_in(path: str, text: str) -> list[str]:
    """What in one file (its path relative to the repository, and its text) looks like a committed secret."""
    found = []
    name = path.rsplit("/", 1)[-1]
    if ENV_FILE.search(path) and name not in ENV_TEMPLATES:
        found.append(f"{path}: an environment file")
    if KEY_FILE_NAMES.search(path):
        found.append(f"{path}: a key file")
    for kind, pattern in KEY_MATERIAL.items():
        found += [f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {kind}" for m in pattern.finditer(text)]
    for match in SECRET_ASSIGNMENT.finditer(text):
        if looks_random(match.group("quoted") or match.group("bare") or ""):
            found.append(f"{path}:{text.count(chr(10), 0, match.start()) + 1}: a secret assigned literally")
    for match in URL_PASSWORD.finditer(text):
        if looks_random(match.group("password")):
            found.append(f"{path}:{text.count(chr(10), 0, match.start()) + 1}: a password in a URL")
    return found


def repository_files() -> list[str]:
    """Every file git tracks, and every new one it would add (not ignored)."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(BASE_DIR), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (a container image has no .git)")
    return sorted({path for path in listed.decode().split("\0") if path})


def test_no_file_in_the_repository_holds_a_secret():
    found = []
    for path in repository_files():
        file = BASE_DIR / path
        if file.is_file():
            found += secrets_in(path, file.read_bytes().decode("utf-8", errors="replace"))

    assert found == []


def _random_token() -> str:
    return "Zq8" + "x7Kp2Lm9Vw4Rt6Yb1Nc3Hd5Fg0Js" + "A1b2C3"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("deploy/server.key", "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE...\n"),
        ("deploy/id.txt", "-----BEGIN " + "OPENSSH PRIVATE KEY-----\n"),
        ("ci.yml", "aws_access_key_id: AKIA" + "ABCDEFGHIJKLMNOP\n"),
        ("notes.md", "token gh" + "p_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8\n"),
        ("leaderboard_project/settings.py", f'SECRET_KEY = "{_random_token()}"\n'),
        ("docker-compose.yml", f"  JWT_SIGNING_KEY: {_random_token()}\n"),
        ("config.json", f'{{"password": "{_random_token()}"}}\n'),
        ("README.md", f"DATABASE_URL=postgres://podium:{_random_token()}@db:5432/podium\n"),
        (".env", "DEBUG=false\n"),
        ("deploy/.env.production", "DEBUG=false\n"),
        ("deploy/id_ed25519", "\n"),
    ],
    ids=[
        "pem-rsa",
        "pem-openssh",
        "aws-key-id",
        "github-token",
        "secret-key-literal",
        "signing-key-in-yaml",
        "password-in-json",
        "password-in-url",
        "env-file",
        "env-file-variant",
        "ssh-key-file",
    ],
)
def test_the_scan_finds_a_planted_secret(path, text):
    assert secrets_in(path, text)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (
            "leaderboard_project/settings.py",
            '_DEV_SECRET_KEY = "django-insecure-podium-development-key-never-use-in-production"\n',
        ),
        ("accounts/tests/factories.py", 'DEFAULT_PASSWORD = "correct-horse-battery"\n'),
        ("tests.py", '{"username": "player1", "email": "player1@demo.com", "password": "demo123"}\n'),
        ("test_settings.py", '"DATABASE_URL": "postgres://podium:pw@db.internal:5432/podium",\n'),
        ("test_settings.py", '"CELERY_BROKER_URL": "amqp://guest:guest@mq.internal:5672//",\n'),
        ("docker-compose.yml", "  SECRET_KEY: ${SECRET_KEY:?set SECRET_KEY}\n"),
        ("docker-compose.yml", "  DATABASE_URL: postgres://podium:${POSTGRES_PASSWORD:-podium}@postgres:5432/podium\n"),
        (".env.example", "SECRET_KEY=\nJWT_SIGNING_KEY=\nMETRICS_TOKEN=\n"),
        ("views.py", "token = user_tokens(user=user)['access']\n"),
    ],
    ids=[
        "development-key",
        "fixture-password",
        "documented-example",
        "example-url-password",
        "guest-url-password",
        "compose-variable",
        "compose-url-variable",
        "env-template",
        "code",
    ],
)
def test_the_scan_leaves_development_values_and_examples_alone(path, text):
    assert secrets_in(path, text) == []
