"""Who may do what, on every route of the URLconf: a table, and tests that walk the URLconf against it.

Each row names a route and, for each method, the status each caller gets: anonymous, player A, player B,
staff and a game server. The URL and the body of every request name A's objects: A's score, A's tournament,
A's profile, A's refresh token. Staff is the operator (``is_staff`` and superuser, as ``make demo`` creates
it); the game server holds an API key for the game. Players and staff carry both a session (pages, admin)
and a JWT (API); the game server only its key, so pages and the admin see it as anonymous.

What the table guards: B never reads A's private data nor changes anything of A's, a player never does
what only staff may, and a game server is neither. A route missing from the table fails the test, so a new
route cannot ship without its row. Every request runs in a savepoint that is rolled back, with the caller's
cookies restored: each cell sees the same world.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import CreditEntry, ModerationAudit
from accounts.services import CreditGrant, api_key_create, credits_grant, user_logout, user_tokens
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from games.tests.factories import GameFactory
from leagues.models import Cohort, Membership, Placement
from leagues.services import TierSpec, league_create
from scores.models import ScoreAudit, ScoreFlag
from scores.services import score_stats_refresh, score_submit, score_void
from simulator.services import populations, simulations, stress
from tournaments import services as tournaments
from tournaments.models import Participant, RecurringTournament

pytestmark = pytest.mark.django_db

CALLERS = ("anon", "a", "b", "staff", "server")

# Status of each caller, in the order of CALLERS. 302 from a page or the admin is the way to sign in (or, after
# a form, back to a page); the admin sends everyone who is not staff to its sign-in page.
# fmt: off
ROUTES: dict[str, dict[str, str]] = {
    # route                         method    anon A   B   staff server
    # --- pages
    "home":                        {"GET":    "200 200 200 200 200"},
    "game-page":                   {"GET":    "200 200 200 200 200"},
    "player-page":                 {"GET":    "200 200 200 200 200"},
    "register":                    {"GET":    "200 302 302 302 200",
                                    "POST":   "302 302 302 302 302"},
    "tournament-pages":            {"GET":    "200 200 200 200 200",
                                    "POST":   "302 302 302 302 302"},
    "tournament-page":             {"GET":    "200 200 200 200 200"},
    "tournament-page-join":        {"POST":   "302 302 302 302 302"},
    "tournament-page-leave":       {"POST":   "302 302 302 302 302"},
    "stress-page":                 {"GET":    "302 403 403 200 302",
                                    "POST":   "302 403 403 302 302"},
    "stress-run-page":             {"GET":    "302 403 403 200 302"},
    "stress-page-stop":            {"POST":   "302 403 403 302 302"},
    "review-page":                 {"GET":    "302 403 403 200 302",
                                    "POST":   "302 403 403 302 302"},
    "demo-population":             {"GET":    "302 403 403 200 302",
                                    "POST":   "302 403 403 302 302"},
    "demo-simulation-start":       {"POST":   "302 403 403 302 302"},
    "demo-simulation-stop":        {"POST":   "302 403 403 302 302"},
    "synthetic-clear":             {"POST":   "302 403 403 302 302"},
    "login":                       {"GET":    "200 200 200 200 200",
                                    "POST":   "302 302 302 302 302"},
    "logout":                      {"POST":   "302 302 302 302 302"},
    # --- the API's index: public -------------------------------------------------------
    "api-root":                    {"GET":    "200 200 200 200 200"},
    # --- accounts API: credentials travel in the body, so anyone may present them -----
    "user-register":               {"POST":   "201 201 201 201 201"},
    "user-login":                  {"POST":   "200 200 200 200 200"},
    "token-refresh":               {"POST":   "200 200 200 200 200"},
    "user-logout":                 {"POST":   "204 204 204 204 204"},
    # /users/me is always the caller's own account (see test_private_routes_answer_with_the_callers_own_data)
    "user-me":                     {"GET":    "401 200 200 200 403",
                                    "PATCH":  "401 200 200 200 403"},
    "user-me-credits":             {"GET":    "401 200 200 200 403"},
    "user-detail":                 {"GET":    "200 200 200 200 200"},
    # --- games: anyone reads, staff write ----------------------------------------------
    "game-list":                   {"GET":    "200 200 200 200 200",
                                    "POST":   "401 403 403 201 403"},
    "game-detail":                 {"GET":    "200 200 200 200 200",
                                    "PATCH":  "401 403 403 200 403",
                                    "DELETE": "401 403 403 204 403"},
    # --- scores: a player submits only for themself, a game server for any player, staff void
    "score-list":                  {"GET":    "200 200 200 200 200",
                                    "POST":   "401 201 403 403 201"},
    "score-batch":                 {"POST":   "401 403 403 403 200"},
    "score-void":                  {"POST":   "401 403 403 200 403"},
    # A is not banned: staff ban with POST; a lift (DELETE) of nobody's ban is a conflict
    "shadow-ban":                  {"POST":   "401 403 403 200 403",
                                    "DELETE": "401 403 403 409 403"},
    "match-session-list":          {"POST":   "401 201 201 201 403"},
    # --- the review queue: staff only (A's score is flagged) ------------------------------
    "flag-list":                   {"GET":    "401 403 403 200 403"},
    "flag-detail":                 {"GET":    "401 403 403 200 403"},
    "flag-resolve":                {"POST":   "401 403 403 200 403"},
    # --- boards: public ------------------------------------------------------------------
    "leaderboard-global":          {"GET":    "200 200 200 200 200"},
    "leaderboard-global-player":   {"GET":    "200 200 200 200 200"},
    "leaderboard-game":            {"GET":    "200 200 200 200 200"},
    "leaderboard-game-player":     {"GET":    "200 200 200 200 200"},
    # --- tournaments: A organizes A's cup and sits in it; B may join, never cancel it nor seat A
    "tournament-list":             {"GET":    "200 200 200 200 200",
                                    "POST":   "401 201 201 201 403"},
    "tournament-register":         {"POST":   "401 201 403 201 403"},
    "tournament-detail":           {"GET":    "200 200 200 200 200"},
    "tournament-join":             {"POST":   "401 409 201 201 403"},
    "tournament-leave":            {"DELETE": "401 204 409 409 403"},
    "tournament-cancel":           {"POST":   "401 200 403 200 403"},
    "tournament-participants":     {"GET":    "200 200 200 200 200"},
    "tournament-standings":        {"GET":    "200 200 200 200 200"},
    # --- leagues: anyone reads, staff create, a player reads their own standing ------------
    "league-list":                 {"GET":    "200 200 200 200 200",
                                    "POST":   "401 403 403 201 403"},
    "league-detail":               {"GET":    "200 200 200 200 200"},
    "league-cohorts":              {"GET":    "200 200 200 200 200"},
    "league-me":                   {"GET":    "401 200 200 200 403"},
    "league-pages":                {"GET":    "200 200 200 200 200"},
    "league-page":                 {"GET":    "200 200 200 200 200"},
    # --- simulator: staff only, but the totals are public --------------------------------
    "simulation-list":             {"GET":    "401 403 403 200 403",
                                    "POST":   "401 403 403 202 403"},
    "simulation-detail":           {"GET":    "401 403 403 200 403",
                                    "DELETE": "401 403 403 200 403"},
    "stress-test-list":            {"GET":    "401 403 403 200 403",
                                    "POST":   "401 403 403 202 403"},
    "stress-test-detail":          {"GET":    "401 403 403 200 403",
                                    "DELETE": "401 403 403 200 403"},
    "synthetic-data":              {"GET":    "401 403 403 200 403",
                                    "DELETE": "401 403 403 200 403"},
    "stats":                       {"GET":    "200 200 200 200 200"},
    # --- schema, docs, the browsable API's sign-in, probes and metrics (from this host) ---
    "schema":                      {"GET":    "200 200 200 200 200"},
    "api-docs":                    {"GET":    "200 200 200 200 200"},
    "rest_framework:login":        {"GET":    "200 200 200 200 200",
                                    "POST":   "302 302 302 302 302"},
    "rest_framework:logout":       {"POST":   "302 302 302 302 302"},
    "favicon":                     {"GET":    "301 301 301 301 301"},
    "healthz":                     {"GET":    "200 200 200 200 200"},
    "readyz":                      {"GET":    "200 200 200 200 200"},
    "metrics":                     {"GET":    "200 200 200 200 200"},
    # --- the admin site: only staff get past its sign-in page ---------------------------
    "admin:index":                 {"GET":    "302 302 302 200 302"},
    "admin:login":                 {"GET":    "200 200 200 302 200"},
    "admin:logout":                {"POST":   "302 302 302 302 302"},
    "admin:password_change":       {"GET":    "302 302 302 200 302",
                                    "POST":   "302 302 302 200 302"},
    "admin:password_change_done":  {"GET":    "302 302 302 200 302"},
    "admin:autocomplete":          {"GET":    "302 302 302 403 302"},
    "admin:jsi18n":                {"GET":    "302 302 302 200 302"},
    "admin:view_on_site":          {"GET":    "302 302 302 404 302"},
    "admin:app_list":              {"GET":    "302 302 302 200 302"},
    "admin/(?P<url>.*)$":          {"GET":    "302 302 302 404 302"},
}

# Each model's admin pages as staff sees them; everyone else is sent to the admin's sign-in (302). A GET, and a
# POST of an empty form. 403 where the admin refuses even staff: scores and audits are never added by hand,
# ledger entries and issued tokens are never edited nor deleted (their change page only shows them), and seats
# in a tournament change only as players join and leave.
ADMIN_MODELS: dict[str, dict[str, str]] = {
    # model                            statuses of: changelist, add, history, delete, change
    "auth/group":                      {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "token_blacklist/outstandingtoken": {"GET": "200 403 200 403 200", "POST": "200 403 200 403 403"},
    "token_blacklist/blacklistedtoken": {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "accounts/user":                   {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "accounts/apikey":                 {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "accounts/creditentry":            {"GET": "200 200 200 403 200", "POST": "200 200 200 403 403"},
    "accounts/moderationaudit":        {"GET": "200 200 200 403 200", "POST": "200 200 200 403 403"},
    "games/game":                      {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "scores/score":                    {"GET": "200 403 200 200 200", "POST": "200 403 200 200 302"},
    "scores/scoreaudit":               {"GET": "200 403 200 200 200", "POST": "200 403 200 200 302"},
    "scores/scoreflag":                {"GET": "200 403 200 403 200", "POST": "200 403 200 403 302"},
    "scores/scorestats":               {"GET": "200 403 200 403 200", "POST": "200 403 200 403 302"},
    "tournaments/tournament":          {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "tournaments/participant":         {"GET": "200 403 200 403 200", "POST": "200 403 200 403 403"},
    "tournaments/recurringtournament": {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "leagues/league":                  {"GET": "200 200 200 403 200", "POST": "200 200 200 403 200"},
    "leagues/cohort":                  {"GET": "200 403 200 403 200", "POST": "200 403 200 403 302"},
    "leagues/membership":              {"GET": "200 403 200 403 200", "POST": "200 403 200 403 200"},
    "leagues/placement":               {"GET": "200 403 200 403 200", "POST": "200 403 200 403 302"},
}
# fmt: on
ADMIN_PAGES = ("changelist", "add", "history", "delete", "change")

# Bodies: "{name}" stands for that value of the world, typed; other strings are formatted with it.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("register", "POST"): {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password": "a-long-passphrase-1",
        "password_again": "a-long-passphrase-1",
    },
    ("tournament-pages", "POST"): {
        "name": "Friday cup",
        "game": "{game}",
        "format": "best_score",
        "max_participants": 10,
        "prize_pool": 0,
        "start_time": "{soon_local}",
        "end_time": "{later_local}",
    },
    ("stress-page", "POST"): {"concurrent_users": 5, "actions_per_second": 10, "duration": 30},
    ("demo-simulation-start", "POST"): {"players": 10, "rate": 1, "duration": 10},
    ("login", "POST"): {"username": "ann", "password": DEFAULT_PASSWORD},
    ("rest_framework:login", "POST"): {"username": "ann", "password": DEFAULT_PASSWORD},
    ("user-register", "POST"): {"username": "newcomer", "email": "newcomer@example.com", "password": "a-long-pass-1"},
    ("user-login", "POST"): {"username": "ann", "password": DEFAULT_PASSWORD},
    ("token-refresh", "POST"): {"refresh": "{a_refresh}"},
    ("user-logout", "POST"): {"refresh": "{a_refresh}"},
    ("user-me", "PATCH"): {"display_name": "Renamed"},
    ("game-list", "POST"): {"name": "Darts"},
    ("game-detail", "PATCH"): {"description": "Updated."},
    ("score-list", "POST"): {"game_id": "arena", "score": 120, "user_id": "{a}"},
    ("score-batch", "POST"): {"scores": [{"user_id": "{a}", "game_id": "{game}", "score": 7}]},
    ("score-void", "POST"): {"reason": "Cheated."},
    ("shadow-ban", "POST"): {"reason": "Impossible scores."},
    ("shadow-ban", "DELETE"): {"reason": "Appeal upheld."},
    ("flag-resolve", "POST"): {"action": "dismiss", "reason": "A fair score."},
    ("league-list", "POST"): {"name": "Cup League", "slug": "cup-league", "game_id": "arena", "tiers": [{"name": "B"}]},
    ("review-page", "POST"): {"flag": "{flag}", "action": "dismiss", "reason": "A fair score."},
    ("tournament-list", "POST"): {"name": "Cup", "game_id": "arena", "start_time": "{soon}", "end_time": "{later}"},
    ("tournament-register", "POST"): {"tournament_id": "{cup_b}", "user_id": "{a}"},
    ("simulation-list", "POST"): {"players": 10, "rate": 1, "duration": 10},
    ("stress-test-list", "POST"): {"concurrent_users": 5, "actions_per_second": 10, "duration": 30},
}

# What each URL parameter names: A's objects, and a game nothing depends on where a route may delete it.
URL_ARGS = {
    "tournament_id": "cup_a",
    "score_id": "score_a",
    "user_id": "a",
    "id": "a",
    "username": "a_username",
    "game_id": "game_slug",
    "slug": "game_slug",
    "id_or_slug": "spare_game_slug",
    "simulation_id": "simulation",
    "stress_test_id": "stress_test",
    "flag_id": "flag",
    "league": "league_slug",
    "app_label": "games_app",
    "url": "nowhere",
    "content_type_id": "game_type",
}
ADMIN_OBJECTS = {
    "auth/group": "group",
    "token_blacklist/outstandingtoken": "outstanding",
    "token_blacklist/blacklistedtoken": "blacklisted",
    "accounts/user": "a",
    "accounts/apikey": "api_key",
    "accounts/creditentry": "credit",
    "accounts/moderationaudit": "moderation",
    "games/game": "game",
    "scores/score": "score_a",
    "scores/scoreaudit": "audit",
    "scores/scoreflag": "flag",
    "scores/scorestats": "game",
    "leagues/league": "league",
    "leagues/cohort": "cohort",
    "leagues/membership": "membership",
    "leagues/placement": "placement",
    "tournaments/tournament": "cup_a",
    "tournaments/participant": "seat_a",
    "tournaments/recurringtournament": "recurring",
}
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
PLACEHOLDER = re.compile(r"^\{(\w+)\}$")


def _admin_routes() -> dict[str, dict[str, str]]:
    """The rows of every model's admin pages, from ADMIN_MODELS: non-staff callers always go to sign in."""
    rows = {}
    for model, statuses in ADMIN_MODELS.items():
        app, name = model.split("/")
        for index, page in enumerate(ADMIN_PAGES):
            rows[f"admin:{app}_{name}_{page}"] = {
                method: f"302 302 302 {codes.split()[index]} 302" for method, codes in statuses.items()
            }
        # The bare object URL sends staff on to its change page.
        rows[f"admin/{model}/<path:object_id>/"] = {"GET": "302 302 302 302 302"}
    # Django's user admin names its password page after the auth app.
    rows["admin:auth_user_password_change"] = {"GET": "302 302 302 200 302"}
    return rows


MATRIX = {**ROUTES, **_admin_routes()}


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    """Every route of the URLconf as (key, pattern, entry): the key is its name, or its pattern when unnamed."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace or "") if part)
            yield from walk(entry, prefix + str(entry.pattern), inner)
        else:
            pattern = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield name or pattern, pattern, entry


def _api_view(callback: object) -> type[APIView] | None:
    view = getattr(callback, "cls", None)
    return view if isinstance(view, type) and issubclass(view, APIView) else None


PATTERNS = {key: pattern for key, pattern, _ in walk(get_resolver())}
API_VIEWS = {key: view for key, _, entry in walk(get_resolver()) if (view := _api_view(entry.callback))}


@pytest.fixture
def world(ranking_index, django_capture_on_commit_callbacks, settings, monkeypatch):
    """A and B with scores, A's credits, A's tournament (A sits in it), B's tournament, finished runs, a key."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {scope: "100000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
    }
    settings.SCORE_RATE_PER_USER_GAME = "100000/min"
    settings.SCORE_RATE_PER_API_KEY = "1000000/min"
    for module in (simulations, stress, populations):
        monkeypatch.setattr(module, "_dispatch", lambda run_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        a, b = UserFactory(username="ann"), UserFactory(username="bob")
        staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
        game, spare_game = GameFactory(slug="arena"), GameFactory(slug="spare")
        score_a = score_submit(user=a, game=game, value=100).score
        score_submit(user=b, game=game, value=90)
        score_void(score=score_submit(user=b, game=game, value=5).score, actor=staff, reason="Cheated.")
        credits_grant(grants=[CreditGrant(user_id=a.pk, amount=50, reference="welcome")])
        soon = timezone.now() + timedelta(hours=1)
        cup_a, cup_b = (
            tournaments.tournament_create(
                organizer=organizer, game=game, name=name, start_time=soon, end_time=soon + timedelta(hours=2)
            )
            for organizer, name in ((a, "Ann's cup"), (b, "Bob's cup"))
        )
        tournaments.tournament_join(tournament=cup_a, user=a)
        recurring = RecurringTournament.objects.create(
            name="Weekly", game=game, organizer=a, schedule="0 18 * * 5", duration=timedelta(hours=1)
        )
        simulation = simulations.simulation_stop(
            simulation=simulations.simulation_start(players=10, rate=1.0, duration=10, started_by=staff)
        )
        stress_test = stress.stress_test_stop(
            stress_test=stress.stress_test_start(
                concurrent_users=5, actions_per_second=10, duration=30, target="http://testserver", started_by=staff
            )
        )
        api_key, raw_key = api_key_create(name="arena server", games=[game])
        flag = ScoreFlag.objects.create(score=score_a, user=a, game=game, reasons="too_fast", detail={})
        league = league_create(
            organizer=staff, game=game, name="Arena League", slug="arena-league", tiers=[TierSpec("B")]
        )
        score_submit(user=a, game=game, value=1)  # A's first score of the period: a seat in a cohort
        score_stats_refresh(game=game)
        a_refresh = user_tokens(user=a)["refresh"]
        user_logout(refresh=user_tokens(user=a)["refresh"])
    values = {
        "a": str(a.pk),
        "a_username": a.username,
        "game": str(game.pk),
        "game_slug": game.slug,
        "spare_game_slug": spare_game.slug,
        "score_a": score_a.pk,
        "cup_a": cup_a.pk,
        "cup_b": cup_b.pk,
        "seat_a": Participant.objects.get(tournament=cup_a, user=a).pk,
        "recurring": recurring.pk,
        "simulation": simulation.pk,
        "stress_test": stress_test.pk,
        "api_key": str(api_key.pk),
        "a_refresh": a_refresh,
        "group": Group.objects.create(name="moderators").pk,
        "credit": CreditEntry.objects.get(user=a).pk,
        "audit": ScoreAudit.objects.get().pk,
        "flag": flag.pk,
        "league": league.pk,
        "league_slug": league.slug,
        "cohort": Cohort.objects.get().pk,
        "membership": Membership.objects.get().pk,
        "placement": Placement.objects.get().pk,
        "moderation": ModerationAudit.objects.create(
            user=b, action=ModerationAudit.Action.LIFT, actor=staff, reason="An old appeal.", standings=0
        ).pk,
        "outstanding": OutstandingToken.objects.filter(user=a).first().pk,
        "blacklisted": BlacklistedToken.objects.get().pk,
        "game_type": ContentType.objects.get_for_model(game).pk,
        "games_app": "games",
        "nowhere": "nowhere/",
        "soon": soon.isoformat(),
        "later": (soon + timedelta(hours=2)).isoformat(),
        "soon_local": soon.strftime("%Y-%m-%dT%H:%M"),
        "later_local": (soon + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    }
    clients = {"anon": APIClient(), "server": APIClient()}
    clients["server"].credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    for caller, user in (("a", a), ("b", b), ("staff", staff)):
        clients[caller] = APIClient()
        clients[caller].force_login(user)
        clients[caller].credentials(HTTP_AUTHORIZATION=f"Bearer {user_tokens(user=user)['access']}")
    return {"clients": clients, "values": values, "a": a, "b": b, "cup_a": cup_a}


def fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, str):
        placeholder = PLACEHOLDER.match(template)
        return values[placeholder.group(1)] if placeholder else template.format(**values)
    return template


def url_of(key: str, values: dict[str, Any]) -> str:
    pattern = PATTERNS[key]
    model = re.match(r"admin/(\w+/\w+)/", pattern)

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name != "object_id":
            return str(values[URL_ARGS[name]])
        # An admin page names an object of its model; the admin's "view on site" names the game.
        return str(values[ADMIN_OBJECTS[model.group(1)] if model else "game"])

    return "/" + PARAMETER.sub(value, pattern).replace("^", "").replace("$", "")


def send(client: APIClient, method: str, url: str, body: dict[str, Any] | None = None) -> HttpResponse:
    """One request whose writes are rolled back and whose cookies (a sign-in, a sign-out) are forgotten.

    The API takes JSON; pages, the admin and the browsable API's sign-in take forms.
    """
    cookies = copy.deepcopy(client.cookies)
    kwargs: dict[str, Any] = {}
    if method not in ("GET", "HEAD"):
        kwargs = {"data": body or {}, "format": "json" if _api_view(resolve(url).func) else "multipart"}
    with transaction.atomic():
        response = getattr(client, method.lower())(url, **kwargs)
        transaction.set_rollback(True)
    client.cookies = cookies
    return response


def test_every_route_of_the_urlconf_has_a_row():
    routes = set(PATTERNS)

    assert sorted(routes - MATRIX.keys()) == [], "routes without a row in the permission matrix"
    assert sorted(MATRIX.keys() - routes) == [], "rows for routes that no longer exist"


@pytest.mark.parametrize("key", sorted(API_VIEWS))
def test_an_api_row_lists_every_method_its_view_serves(key):
    view = API_VIEWS[key]
    served = {method.upper() for method in view.http_method_names if hasattr(view, method)} - {"OPTIONS", "HEAD"}

    assert set(MATRIX[key]) == served


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_who_may_do_what(world, key):
    values = world["values"]
    url = url_of(key, values)
    expected = {method: dict(zip(CALLERS, codes.split(), strict=True)) for method, codes in MATRIX[key].items()}

    observed = {
        method: {
            caller: str(
                send(world["clients"][caller], method, url, fill(BODIES.get((key, method)), values)).status_code
            )
            for caller in CALLERS
        }
        for method in MATRIX[key]
    }

    assert observed == expected, f"{key}: {url}"


# --- the same URL for everyone, each caller's own data ------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/users/me/credits"])
def test_private_routes_answer_with_the_callers_own_data(world, path):
    a, b = world["a"], world["b"]

    body = send(world["clients"]["b"], "GET", path).content.decode()

    assert str(a.pk) not in body and a.email not in body and "welcome" not in body
    if path.endswith("/me"):
        assert str(b.pk) in body


def test_a_public_profile_shows_no_email(world):
    a = world["a"]

    profile = send(world["clients"]["b"], "GET", f"/api/v1/users/{a.pk}").json()

    assert profile["id"] == str(a.pk)
    assert "email" not in profile


def test_patching_me_changes_only_the_caller(world):
    a = world["a"]
    clients = world["clients"]

    with transaction.atomic():
        clients["b"].patch("/api/v1/users/me", {"display_name": "Renamed", "email": "bob2@example.com"}, format="json")
        a.refresh_from_db()
        world["b"].refresh_from_db()
        transaction.set_rollback(True)

    assert (a.display_name, a.email) == ("Ann", "ann@example.com")
    assert world["b"].display_name == "Renamed"


@pytest.mark.parametrize(
    "method, path",
    [("DELETE", "/api/v1/tournaments/{cup}/leave"), ("POST", "/tournaments/{cup}/leave")],
    ids=["api", "page"],
)
def test_leaving_a_tournament_never_unseats_another_player(world, method, path):
    cup = world["cup_a"]
    clients = world["clients"]

    with transaction.atomic():
        getattr(clients["b"], method.lower())(path.format(cup=cup.pk))
        seated = set(Participant.objects.filter(tournament=cup).values_list("user__username", flat=True))
        transaction.set_rollback(True)

    assert seated == {"ann"}
