"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (``/api/schema/``).

Every operation is called with generated requests, valid and invalid, as a player, as staff and as a game
server, against the WSGI application of this process. Each response must be what the schema documents: no
5xx, a documented status code and content type, a body matching its schema, invalid input refused with a
4xx, and credentials enforced where the schema requires them.

``PODIUM_FUZZ_EXAMPLES`` sets the examples generated per operation and caller (default 15); the seed is
fixed, so a run is repeatable.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import CreditGrant, api_key_create, credits_grant, user_tokens
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from games.tests.factories import GameFactory
from scores.services import score_submit
from simulator.services import simulations, stress
from tournaments import services as tournaments

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = int(os.environ.get("PODIUM_FUZZ_EXAMPLES", "15"))
SEED = 20240601

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # Each test sends its own caller's credentials; generated ones would only be refused.
            "with-security-parameters": False,
        },
        # The coverage phase sends hundreds of cases per operation whatever max-examples says.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)


def _load_schema() -> schemathesis.BaseSchema:
    with override_settings(JOBS_IN_PROCESS=False):
        return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)


schema = _load_schema()

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
    ignored_auth,
]

FORM = "application/x-www-form-urlencoded"

# Names under which path parameters, query parameters and body fields carry the id of a row, or a credential.
KNOWN_NAMES = {
    "id_or_slug": "games",
    "game_id": "games",
    "user_id": "users",
    "score_id": "scores",
    "tournament_id": "tournaments",
    "simulation_id": "simulations",
    "stress_test_id": "stress_tests",
    "refresh": "refresh_tokens",
    "username": "usernames",
    "password": "passwords",
}


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {scope: "100000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
    }
    settings.SCORE_RATE_PER_USER_GAME = "100000/min"
    settings.SCORE_RATE_PER_API_KEY = "1000000/min"


@pytest.fixture(autouse=True)
def _runs_are_recorded_not_started(monkeypatch):
    """Simulations and stress tests the fuzzer starts are stored, never run: no locust, no simulated players."""
    monkeypatch.setattr(simulations, "_dispatch", lambda run_id: None)
    monkeypatch.setattr(stress, "_dispatch", lambda run_id: None)


@pytest.fixture(autouse=True)
def _connections_kept_open():
    """As Django's test client does: a request must not close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(ranking_index):
    """Players with scores and credits, staff, two games with scores and one without, a scheduled (both players
    in it), a running and a cancelled tournament, a finished simulation, a pending stress test, a server's key."""
    player, rival = UserFactory(), UserFactory()
    staff = UserFactory(is_staff=True)
    games = [GameFactory(slug="arena"), GameFactory(slug="laps", sort_order="asc", score_operator="sum")]
    scores = [
        score_submit(user=user, game=game, value=value).score
        for user, value in ((player, 150), (rival, 90))
        for game in games
    ]
    credits_grant(grants=[CreditGrant(user_id=player.pk, amount=50, reference="welcome")])
    now = timezone.now()
    scheduled = tournaments.tournament_create(
        organizer=player,
        game=games[0],
        name="Open",
        start_time=now + timedelta(hours=1),
        end_time=now + timedelta(hours=3),
    )
    for user in (player, rival):
        tournaments.tournament_join(tournament=scheduled, user=user)
    running = tournaments.tournament_create(
        organizer=rival,
        game=games[1],
        name="Live",
        start_time=now - timedelta(seconds=1),
        end_time=now + timedelta(hours=1),
    )
    running = tournaments.tournament_start(tournament=running)
    cancelled = tournaments.tournament_cancel(
        tournament=tournaments.tournament_create(
            organizer=player,
            game=games[0],
            name="Called off",
            start_time=now + timedelta(hours=1),
            end_time=now + timedelta(hours=2),
        ),
        actor=player,
    )
    # One run over and one going: starting a simulation succeeds, starting a stress test conflicts.
    simulation = simulations.simulation_stop(
        simulation=simulations.simulation_start(players=10, rate=1.0, duration=10, started_by=staff)
    )
    stress_test = stress.stress_test_start(
        concurrent_users=5, actions_per_second=10, duration=30, target="http://localhost", started_by=staff
    )
    _, raw_key = api_key_create(name="arena server", games=games)
    rows = {
        "scheduled": [scheduled.pk],
        "running": [running.pk],
        "cancelled": [cancelled.pk],
        "games": ["arena", str(games[1].pk), GameFactory(slug="spare").slug],
        "users": [str(player.pk), str(rival.pk), str(staff.pk)],
        "scores": [score.pk for score in scores],
        "tournaments": [scheduled.pk, running.pk, cancelled.pk],
        "simulations": [simulation.pk],
        "stress_tests": [stress_test.pk],
        "refresh_tokens": [user_tokens(user=player)["refresh"]],
        "usernames": [player.username],
        "passwords": [DEFAULT_PASSWORD],
    }
    return {"player": player, "rival": rival, "staff": staff, "api_key": raw_key, "rows": rows}


def _headers(world: dict, caller: str | None) -> dict[str, str]:
    if caller is None:
        return {}
    if caller == "server":
        return {"Authorization": f"Api-Key {world['api_key']}"}
    return {"Authorization": f"Bearer {user_tokens(user=world[caller])['access']}"}


@pytest.fixture(params=["player", "staff", "server"])
def credentials(request, world):
    return _headers(world, request.param)


def _has_object_values(body: dict) -> bool:
    values = [item for value in body.values() for item in (value if isinstance(value, list) else [value])]
    return any(isinstance(value, dict) for value in values)


def _name_known_rows(case, data, rows):
    """Let about half of the ids and credentials a valid request carries name rows and accounts that exist, and
    half of its tournament windows lie ahead, so that the paths past validation run too.

    Only components generated valid are touched: an invalid one must stay invalid to test its rejection.
    """
    containers = [
        (ParameterLocation.PATH, case.path_parameters),
        (ParameterLocation.QUERY, case.query),
        (ParameterLocation.BODY, case.body),
    ]
    for location, values in containers:
        if not isinstance(values, dict) or case.meta is None or case.meta.is_negative_at(location):
            continue
        for name in sorted(set(values) & KNOWN_NAMES.keys()):
            if data.draw(st.booleans(), label=f"{name} is known"):
                values[name] = data.draw(st.sampled_from(rows[KNOWN_NAMES[name]]), label=name)
        if {"start_time", "end_time"} <= values.keys() and data.draw(st.booleans(), label="a window ahead"):
            start = timezone.now() + timedelta(hours=1)
            values["start_time"], values["end_time"] = start.isoformat(), (start + timedelta(hours=2)).isoformat()


@schema.parametrize()
@schema.given(data=st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_response_is_documented(case, data, credentials, world):
    # The WSGI transport sends a form whose values are objects as an empty body, not the request it reports.
    assume(not (case.media_type == FORM and isinstance(case.body, dict) and _has_object_values(case.body)))
    if case.media_type == FORM and isinstance(case.body, dict):
        # An empty form field is a field left out, as in any HTML form (DRF's form parsing): not sent at all.
        case.body = {name: value for name, value in case.body.items() if value != ""}
    _name_known_rows(case, data, world["rows"])

    case.call_and_validate(headers=credentials, checks=CHECKS)


# Requests the fuzzer once found answered against the schema, kept as fixed cases: (method, path, request,
# caller, status). "{name}" in a path parameter names the first row of that kind in the world.
FOUND = [
    # 409 was not documented where a conflict is possible.
    (
        "POST",
        "/api/v1/tournaments/{tournament_id}/join",
        {"path_parameters": {"tournament_id": "{scheduled}"}},
        "rival",
        409,
    ),
    (
        "DELETE",
        "/api/v1/tournaments/{tournament_id}/leave",
        {"path_parameters": {"tournament_id": "{running}"}},
        "player",
        409,
    ),
    (
        "POST",
        "/api/v1/tournaments/{tournament_id}/cancel",
        {"path_parameters": {"tournament_id": "{cancelled}"}},
        "staff",
        409,
    ),
    ("DELETE", "/api/v1/games/{id_or_slug}", {"path_parameters": {"id_or_slug": "arena"}}, "staff", 409),
    # A public read was documented as needing credentials.
    ("GET", "/api/v1/games", {}, None, 200),
    ("GET", "/api/v1/tournaments", {}, None, 200),
    # A bad history page size fell back to the default silently.
    ("GET", "/api/v1/scores", {"query": {"limit": "ten"}}, "player", 400),
    ("GET", "/api/v1/scores", {"query": {"limit": "1000"}}, "player", 400),
    # A number where the schema says boolean was read as one.
    (
        "POST",
        "/api/v1/games",
        {"body": {"name": "Darts", "counts_toward_global": 0.0}, "media_type": "application/json"},
        "staff",
        400,
    ),
]


@pytest.mark.parametrize(
    "method, path, request_, caller, status", FOUND, ids=[f"{m} {p} {c or 'anonymous'} {s}" for m, p, _, c, s in FOUND]
)
def test_a_found_case_is_answered_as_documented(world, method, path, request_, caller, status):
    rows = world["rows"]
    path_parameters = {
        name: rows[value[1:-1]][0] if str(value).startswith("{") else value
        for name, value in request_.get("path_parameters", {}).items()
    }
    case = schema[path][method].Case(**{**request_, "path_parameters": path_parameters})

    response = case.call_and_validate(headers=_headers(world, caller), checks=CHECKS)

    assert response.status_code == status


def test_the_schema_says_which_fields_are_refused_and_which_empty_parameters_are_absent():
    document = schema.raw_schema
    parameters = {item["name"]: item for item in document["paths"]["/api/v1/tournaments"]["get"]["parameters"]}

    assert document["components"]["schemas"]["ScoreSubmitRequest"]["additionalProperties"] is False
    assert all(parameters[name].get("allowEmptyValue") for name in ("offset", "limit", "status", "game_id"))
