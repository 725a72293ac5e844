"""Periodic jobs without a broker: the beat schedule run by a thread of the server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leaderboard_project import jobs
from tournaments.models import Status, Tournament
from tournaments.tests.factories import TournamentFactory


@pytest.mark.django_db(transaction=True)
def test_a_due_job_runs_and_waits_for_its_interval(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "tournaments-tick": {"task": "tournaments.tasks.tournaments_tick", "schedule": 5.0},
    }
    cup = TournamentFactory(start_time=timezone.now() - timedelta(seconds=1))
    last_run: dict[str, float] = {}

    assert jobs.run_due(last_run, 100.0) == ["tournaments-tick"]
    assert Tournament.objects.get(pk=cup.pk).status == Status.RUNNING
    assert jobs.run_due(last_run, 104.0) == []  # not due again yet
    assert jobs.run_due(last_run, 105.0) == ["tournaments-tick"]


@pytest.mark.django_db
def test_a_failing_job_is_logged_and_the_others_still_run(settings, caplog):
    settings.CELERY_BEAT_SCHEDULE = {
        "broken": {"task": "leaderboard_project.tests.test_jobs.no_such_task", "schedule": 1.0},
        "heal": {"task": "rankings.tasks.rankings_heal", "schedule": 1.0},
    }

    assert jobs.run_due({}, 0.0) == ["broken", "heal"]
    assert "background job broken failed" in caplog.text


def test_the_thread_starts_only_when_jobs_run_in_process(settings, monkeypatch):
    started = []
    monkeypatch.setattr(jobs.threading, "Thread", lambda **kwargs: started.append(kwargs) or _NotStarted())
    monkeypatch.setattr(jobs, "_started", False)

    settings.JOBS_IN_PROCESS = False
    jobs.start_in_process_beat()
    assert started == []

    settings.JOBS_IN_PROCESS = True
    jobs.start_in_process_beat()
    jobs.start_in_process_beat()  # once per process
    assert [kwargs["name"] for kwargs in started] == ["podium-beat"]


class _NotStarted:
    def start(self) -> None:
        pass
