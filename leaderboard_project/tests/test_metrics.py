"""Podium's Prometheus metrics: what moves them, who may read /metrics, and several processes added up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from events.bus import publish
from games.tests.factories import GameFactory
from leaderboard_project.asgi import application
from leaderboard_project.celery import app as celery_app
from realtime.hub import Outbox, deliver
from scores.services import BatchItem, ImportItem, score_import, score_submit, score_submit_batch
from simulator.models import Simulation
from tournaments import services as tournaments
from tournaments.tests.factories import running_cup_with_two_scores

PROJECT_DIR = Path(__file__).resolve().parents[2]


def sample(name: str, **labels: str) -> float:
    """A sample's value in this process's registry, 0 when it was never set."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def submitted(game: str, source: str) -> float:
    return sample("podium_scores_submitted_total", game=game, source=source)


# --- scores -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_submitted_score_is_counted_by_game_and_source_after_commit_and_timed(
    django_capture_on_commit_callbacks,
):
    game, player = GameFactory(slug="metrics-arena"), UserFactory()
    before = submitted("metrics-arena", "client")
    timed_before = sample("podium_score_submit_seconds_count", kind="single")

    with django_capture_on_commit_callbacks(execute=True):
        score_submit(user=player, game=game, value=10)
        assert submitted("metrics-arena", "client") == before  # not yet committed

    assert submitted("metrics-arena", "client") == before + 1
    assert sample("podium_score_submit_seconds_count", kind="single") == timed_before + 1
    assert sample("podium_ranking_seconds_count", operation="record") > 0


@pytest.mark.django_db
def test_a_rolled_back_score_is_not_counted(django_capture_on_commit_callbacks):
    game, player = GameFactory(slug="metrics-rollback"), UserFactory()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            score_submit(user=player, game=game, value=10)
            raise RuntimeError("the caller's transaction fails")

    assert submitted("metrics-rollback", "client") == 0


@pytest.mark.django_db
def test_a_batch_counts_its_created_scores_as_server_scores(django_capture_on_commit_callbacks):
    game, players = GameFactory(slug="metrics-batch"), UserFactory.create_batch(2)
    api_key, _ = api_key_create(name="match server", games=[game])
    timed_before = sample("podium_score_submit_seconds_count", kind="batch")
    items = [BatchItem(player.pk, game.pk, 5, {}, None) for player in players]
    items.append(BatchItem(players[0].pk, game.pk, "not a score", {}, None))  # rejected: not counted

    with django_capture_on_commit_callbacks(execute=True):
        score_submit_batch(api_key=api_key, items=items)

    assert submitted("metrics-batch", "server") == 2
    assert sample("podium_score_submit_seconds_count", kind="batch") == timed_before + 1


@pytest.mark.django_db
def test_an_import_counts_its_scores_as_imported(django_capture_on_commit_callbacks):
    game, player = GameFactory(slug="metrics-import"), UserFactory()
    now = timezone.now()
    items = [ImportItem(player.pk, game.pk, value, now - timedelta(hours=value)) for value in (1, 2, 3)]

    with django_capture_on_commit_callbacks(execute=True):
        score_import(items=items)

    assert submitted("metrics-import", "import") == 3


# --- ranking operations ---------------------------------------------------------------------


@pytest.mark.django_db
def test_board_reads_are_timed_by_operation(api_client):
    game = GameFactory(slug="metrics-reads")
    before = {operation: sample("podium_ranking_seconds_count", operation=operation) for operation in ("top", "entry")}
    player = UserFactory()
    score_submit(user=player, game=game, value=3)

    api_client.get(f"/api/v1/leaderboard/game/{game.slug}")
    api_client.get(f"/api/v1/leaderboard/game/{game.slug}/players/{player.pk}")

    assert sample("podium_ranking_seconds_count", operation="top") == before["top"] + 1
    assert sample("podium_ranking_seconds_count", operation="entry") == before["entry"] + 1


# --- real time ------------------------------------------------------------------------------


async def _connect() -> WebsocketCommunicator:
    client = WebsocketCommunicator(application, "/ws/main")
    connected, _ = await client.connect(timeout=5)
    assert connected
    return client


@pytest.mark.django_db(transaction=True)
def test_the_open_websockets_gauge_follows_connections():
    async def scenario() -> list[float]:
        seen = [sample("podium_websockets_open")]
        first, second = await _connect(), await _connect()
        seen.append(sample("podium_websockets_open"))
        await first.disconnect()
        seen.append(sample("podium_websockets_open"))
        await second.disconnect()
        seen.append(sample("podium_websockets_open"))
        return seen

    before, both, one, none = async_to_sync(scenario)()

    assert (both, one, none) == (before + 2, before + 1, before)


def _events(frame: dict) -> list[dict]:
    return frame["events"] if frame["type"] == "batch" else [frame]


@pytest.mark.django_db(transaction=True)
def test_a_published_event_is_counted_sent_to_each_client_and_its_lag_measured():
    published = sample("podium_events_published_total", channel="score")
    sent = sample("podium_events_sent_total", channel="score")
    lags = sample("podium_publish_lag_seconds_count")
    ours = {"marker": str(uuid.uuid4())}

    async def scenario() -> list[list[dict]]:
        clients = [await _connect() for _ in range(3)]
        for client in clients:
            await client.send_json_to({"type": "subscribe", "channels": ["score"]})
            assert (await client.receive_json_from(timeout=5))["type"] == "subscribed"
        await database_sync_to_async(publish)("score", "score.submitted", ours)
        received = []
        for client in clients:
            frames: list[dict] = []
            while not any(event["data"] == ours for frame in frames for event in _events(frame)):
                frames.append(await client.receive_json_from(timeout=5))
            received.append(frames)
        for client in clients:
            await client.disconnect()
        return received

    received = async_to_sync(scenario)()

    # With Redis, another server publishing on the same channel meanwhile reaches these clients too (Redis
    # pub/sub ignores the database number): what was sent is what the clients received.
    frames = received[0]
    assert received == [frames] * 3
    assert sample("podium_events_published_total", channel="score") == published + 1
    assert sample("podium_events_sent_total", channel="score") == sent + 3 * sum(len(_events(f)) for f in frames)
    assert sample("podium_publish_lag_seconds_count") == lags + len(frames)  # once a frame, not once a client


def test_events_that_do_not_fit_a_clients_outbox_are_counted_dropped():
    async def scenario() -> tuple[float, float]:
        async def never_sent(frame: str) -> None:
            await asyncio.Event().wait()

        # Not started: nothing leaves the outboxes, so the second frame no longer fits.
        outboxes = [Outbox(never_sent, limit=2), Outbox(never_sent, limit=2)]
        sent, dropped = sample("podium_events_sent_total", channel="score"), sample("podium_events_dropped_total")
        deliver(outboxes, '{"type":"batch"}', "score", 2)
        deliver(outboxes, '{"type":"batch"}', "score", 2)
        return (
            sample("podium_events_sent_total", channel="score") - sent,
            sample("podium_events_dropped_total") - dropped,
        )

    assert async_to_sync(scenario)() == (4, 4)


# --- tournaments and Celery --------------------------------------------------------------------


@pytest.mark.django_db
def test_prizes_are_counted_once_the_payout_commits(django_capture_on_commit_callbacks):
    cup = running_cup_with_two_scores(name="Metrics Cup", game=GameFactory(slug="metrics-cup"))
    tournaments.tournament_finish(tournament=cup, now_=True)  # its payout task is never sent: not committed
    prizes, credits = sample("podium_prizes_paid_total"), sample("podium_prize_credits_paid_total")

    with django_capture_on_commit_callbacks(execute=True):
        tournaments.tournament_pay(tournament=cup)
        assert sample("podium_prizes_paid_total") == prizes

    assert sample("podium_prizes_paid_total") == prizes + 2
    assert sample("podium_prize_credits_paid_total") == credits + 80
    tournaments.tournament_pay(tournament=cup)  # paid already: nothing more is counted
    assert sample("podium_prizes_paid_total") == prizes + 2


@celery_app.task(name="podium.tests.metrics.succeeds")
def _succeeds() -> int:
    return 1


@celery_app.task(name="podium.tests.metrics.fails")
def _fails() -> None:
    raise ValueError("this task fails")


@celery_app.task(bind=True, name="podium.tests.metrics.retries", max_retries=1, default_retry_delay=0)
def _retries(self) -> None:
    raise self.retry()


@pytest.fixture
def tasks_keep_their_errors():
    """Tasks run eagerly record their errors, as in a worker, rather than raising them to the caller."""
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = propagates


def test_celery_task_outcomes_are_counted_by_task(tasks_keep_their_errors):
    def outcome(task: str, name: str) -> float:
        return sample("podium_celery_tasks_total", task=f"podium.tests.metrics.{task}", outcome=name)

    before = {
        (task, name): outcome(task, name)
        for task in ("succeeds", "fails", "retries")
        for name in ("success", "failure", "retry")
    }

    assert _succeeds.apply().state == "SUCCESS"
    assert _fails.apply().state == "FAILURE"
    assert _retries.apply().state == "FAILURE"  # retried once (run again at once, eagerly), then out of retries

    moved = {key: outcome(*key) - value for key, value in before.items() if outcome(*key) != value}
    assert moved == {
        ("succeeds", "success"): 1,
        ("fails", "failure"): 1,
        ("retries", "retry"): 1,
        ("retries", "failure"): 1,
    }


# --- /metrics ---------------------------------------------------------------------------------


METRICS = "/metrics"


@pytest.fixture
def production(settings):
    """DEBUG off, neither METRICS_ALLOWED_IPS nor METRICS_TOKEN set."""
    settings.DEBUG = False
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = ""
    return settings


@pytest.mark.django_db
def test_metrics_show_podiums_own_django_prometheus_and_the_simulator_state(api_client):
    response = api_client.get(METRICS)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "# TYPE podium_scores_submitted_total counter" in text
    assert "django_http_requests_total_by_method_total" in text
    assert 'podium_simulator_active{kind="simulation"} 0.0' in text
    assert 'podium_simulator_active{kind="stress_test"} 0.0' in text
    assert 'podium_simulator_active{kind="population"} 0.0' in text


@pytest.mark.django_db
def test_a_running_simulation_shows_as_active(api_client):
    Simulation.objects.create(players=10, rate=1.0, duration=60, status="running")

    text = api_client.get(METRICS).content.decode()

    assert 'podium_simulator_active{kind="simulation"} 1.0' in text
    assert 'podium_simulator_active{kind="stress_test"} 0.0' in text


@pytest.mark.django_db
def test_debug_on_opens_the_metrics_to_nobody_else(api_client, settings):
    settings.DEBUG, settings.METRICS_ALLOWED_IPS, settings.METRICS_TOKEN = True, [], ""

    assert api_client.get(METRICS, REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.django_db
def test_a_signed_in_staff_member_reads_the_metrics_from_anywhere(client, production):
    client.force_login(UserFactory(is_staff=True))

    assert client.get(METRICS, REMOTE_ADDR="203.0.113.9").status_code == 200


@pytest.mark.django_db
def test_a_signed_in_player_is_refused(client, production):
    client.force_login(UserFactory())

    assert client.get(METRICS, REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.django_db
def test_behind_a_proxy_localhost_alone_is_not_let_in(api_client, production):
    # Every request reaches Podium from the proxy, often on this machine: its address says nothing.
    production.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    assert api_client.get(METRICS, REMOTE_ADDR="127.0.0.1").status_code == 403
    production.METRICS_TOKEN = "s3cret-token"
    assert api_client.get(METRICS, REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_in_production_without_access_settings_only_localhost_reads_metrics(api_client, production, address):
    assert api_client.get(METRICS, REMOTE_ADDR=address).status_code == 200


@pytest.mark.django_db
def test_in_production_another_address_is_refused_with_the_json_error(api_client, production):
    response = api_client.get(METRICS, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "status"),
    [("10.1.2.3", 200), ("192.0.2.7", 200), ("::ffff:10.1.2.3", 200), ("192.0.2.8", 403), ("127.0.0.1", 403)],
)
def test_the_allow_list_admits_its_addresses_and_networks_only(api_client, production, address, status):
    production.METRICS_ALLOWED_IPS = ["10.0.0.0/8", " 192.0.2.7"]  # as read from "10.0.0.0/8, 192.0.2.7"

    assert api_client.get(METRICS, REMOTE_ADDR=address).status_code == status


@pytest.mark.django_db
def test_x_forwarded_for_is_never_trusted(api_client, production):
    production.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    response = api_client.get(METRICS, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.1.2.3")

    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authorization", "status"),
    [("Bearer s3cret-token", 200), ("bearer s3cret-token", 200), ("Bearer wrong", 403), ("", 403)],
)
def test_the_token_admits_from_anywhere(api_client, production, authorization, status):
    production.METRICS_TOKEN = "s3cret-token"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    assert api_client.get(METRICS, REMOTE_ADDR="203.0.113.9", **headers).status_code == status


@pytest.mark.django_db
def test_with_a_token_and_an_allow_list_either_admits(api_client, production):
    production.METRICS_TOKEN = "s3cret-token"
    production.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert api_client.get(METRICS, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert (
        api_client.get(METRICS, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    )
    assert api_client.get(METRICS, REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.django_db
def test_a_malformed_allow_list_entry_is_a_configuration_error(rf, production):
    from leaderboard_project.metrics_view import metrics_allowed

    production.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "not-an-address"]

    with pytest.raises(ImproperlyConfigured, match="not-an-address"):
        metrics_allowed(rf.get(METRICS))


# --- several processes ------------------------------------------------------------------------


_INCREMENT = """
import sys
from common.metrics import SCORES_SUBMITTED
SCORES_SUBMITTED.labels("multi-process", "client").inc(int(sys.argv[1]))
"""

_SCRAPE = """
import django
django.setup()
from django.test import Client
response = Client().get("/metrics", HTTP_HOST="localhost")
print(response.status_code)
print(response.content.decode())
"""


def _database_url() -> str:
    """The test database as a DATABASE_URL, so another process reads what this test wrote."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(database['NAME']).resolve()}"
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"


def _python(code: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.django_db(transaction=True)
def test_metrics_add_up_the_values_of_every_process_in_the_multiprocess_directory(tmp_path):
    Simulation.objects.create(players=10, rate=1.0, duration=60, status="running")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DATABASE_URL": _database_url(),
    }

    _python(_INCREMENT, "3", env=env)
    _python(_INCREMENT, "4", env=env)
    status, text = _python(_SCRAPE, env=env).split("\n", 1)

    assert status == "200"
    assert 'podium_scores_submitted_total{game="multi-process",source="client"} 7.0' in text
    assert 'podium_simulator_active{kind="simulation"} 1.0' in text
    assert len(list(tmp_path.glob("counter_*.db"))) >= 2  # one file per process that counted


def test_the_metric_names_stay_those_the_dashboard_uses():
    names = {metric.name for metric in REGISTRY.collect() if metric.name.startswith("podium_")}

    assert names >= {
        "podium_scores_submitted",
        "podium_score_submit_seconds",
        "podium_ranking_seconds",
        "podium_websockets_open",
        "podium_events_published",
        "podium_events_sent",
        "podium_events_dropped",
        "podium_publish_lag_seconds",
        "podium_celery_tasks",
        "podium_prizes_paid",
        "podium_prize_credits_paid",
    }
