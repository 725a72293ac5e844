"""Traces: a score from the API to the ranking and the publish, a payout from its sender to a real worker.

OpenTelemetry allows one tracer provider per process: the first use installs it with an in-memory exporter
that each test clears. The libraries are instrumented for this module's tests only, and uninstrumented after.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from django.db import connections
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from accounts.tests.factories import UserFactory
from common import tracing
from games.models import Game
from games.tests.factories import GameFactory
from tournaments import services as tournaments
from tournaments.models import Status, Tournament
from tournaments.tests.factories import running_cup_with_two_scores

PAY_TASK = "tournaments.tasks.tournament_pay_task"


@pytest.fixture(scope="module")
def exporter(django_db_setup, django_db_blocker) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure_tracing(exporter=exporter)
    # Connections opened before the instrumentation are not traced; the tests open new ones, and so do later
    # tests once the instrumentation is gone.
    with django_db_blocker.unblock():
        connections.close_all()
    yield exporter
    tracing.uninstrument()
    exporter.shutdown()  # spans of Podium's own code in later tests are not kept
    with django_db_blocker.unblock():
        connections.close_all()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


def named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, f"expected one {name} span among {[span.name for span in spans]}"
    return found[0]


def ancestors(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The span's parent, its parent's parent, ..., as far as they are among ``spans``."""
    by_id = {other.context.span_id: other for other in spans}
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def post_a_score(client_for: Callable, exporter: InMemorySpanExporter) -> tuple[list[ReadableSpan], ReadableSpan]:
    """POST a score; the spans of the request's trace, and the request's own span."""
    GameFactory(slug="traced")

    response = client_for(UserFactory()).post("/api/v1/scores", {"game_id": "traced", "score": 42}, format="json")

    assert response.status_code == 201
    finished = exporter.get_finished_spans()
    (request,) = [span for span in finished if span.kind == SpanKind.SERVER]
    return [span for span in finished if span.context.trace_id == request.context.trace_id], request


@pytest.mark.django_db(transaction=True)
def test_a_posted_score_is_one_trace_from_the_request_to_the_ranking_and_the_publish(spans, client_for):
    trace, request = post_a_score(client_for, spans)

    assert request.parent is None
    assert request.attributes["http.route"] == "api/v1/scores"
    game = Game.objects.get(slug="traced")
    record = named(trace, "rankings.record")
    assert record.attributes["podium.game"] == "traced"
    assert f"game.{game.pk}.all" in record.attributes["podium.boards"]
    assert request in ancestors(record, trace)
    # One commit hook publishes the submission's events: the boards it moved (the game's board and the global
    # one), then the score's (on the score feed and the game's board channel).
    publishes = [span for span in trace if span.name == "realtime.publish"]
    assert [span.attributes["podium.channels"] for span in publishes] == [("boards", "leaderboard", "score")]
    assert [span.attributes["podium.events"] for span in publishes] == [4]
    assert all(request in ancestors(span, trace) for span in publishes)
    database = [span for span in trace if span.attributes.get("db.system") in ("sqlite", "postgresql")]
    assert database, [span.name for span in trace]
    assert any(record in ancestors(span, trace) for span in database)  # the standings read and written


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_posted_scores_trace_holds_its_redis_calls(spans, client_for, ranking_index):
    trace, request = post_a_score(client_for, spans)

    redis = [span for span in trace if span.attributes.get("db.system") == "redis"]
    assert redis, [span.name for span in trace]
    assert all(request in ancestors(span, trace) for span in redis)


def test_tracing_stays_off_without_an_endpoint(settings):
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = ""

    assert tracing.configure_tracing() is False


@pytest.fixture
def worker(exporter):
    from celery.contrib.testing.worker import start_worker

    from leaderboard_project.celery import app

    assert not app.conf.task_always_eager
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


@pytest.fixture
def finished_cup(monkeypatch) -> Tournament:
    """A finished tournament with two winners, whose payout has not been sent (the test sends it)."""
    from tournaments import tasks

    cup = running_cup_with_two_scores(name="Traced Cup")
    monkeypatch.setattr(tasks.tournament_pay_task, "delay", lambda *args: None)
    return tournaments.tournament_finish(tournament=cup, now_=True)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_payout_task_runs_in_the_worker_as_a_child_of_its_send_and_holds_the_payout(finished_cup, spans, worker):
    from tournaments.tasks import tournament_pay_task

    spans.clear()
    task_id = tournament_pay_task.apply_async((finished_cup.pk,)).id

    def task_span(name: str) -> ReadableSpan | None:
        found = [
            span
            for span in spans.get_finished_spans()
            if span.name == f"{name}/{PAY_TASK}" and span.attributes.get("messaging.message.id") == task_id
        ]
        return found[0] if found else None

    deadline = time.monotonic() + 30
    while task_span("run") is None:
        assert time.monotonic() < deadline, "the worker did not run the payout"
        time.sleep(0.05)

    send, run = task_span("apply_async"), task_span("run")
    assert (send.kind, run.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert run.context.trace_id == send.context.trace_id
    assert run.parent is not None and run.parent.span_id == send.context.span_id
    trace = [span for span in spans.get_finished_spans() if span.context.trace_id == send.context.trace_id]
    pay = named(trace, "tournaments.pay")
    assert run in ancestors(pay, trace)
    assert (pay.attributes["podium.tournament"], pay.attributes["podium.prizes"]) == (finished_cup.pk, 2)
    assert Tournament.objects.get(pk=finished_cup.pk).status == Status.PAID
