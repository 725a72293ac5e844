from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped early"
    FAILED = "failed", "Failed"


ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.STOPPING)


class Run(models.Model):
    """What every kind of background run has: a status, one-at-a-time, who started it, when, and why it failed."""

    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    # One at a time: True while the run is not over, NULL after; unique, so a second active run cannot be stored.
    active = models.BooleanField(null=True, default=True, unique=True, editable=False)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class Simulation(Run):
    """A background simulation: simulated players submitting scores at about ``rate`` per second."""

    players = models.PositiveIntegerField()
    rate = models.FloatField()
    duration = models.PositiveIntegerField(help_text="seconds")
    scores_submitted = models.PositiveBigIntegerField(default=0)
    tournaments_joined = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"simulation {self.pk} ({self.status})"


class StressTest(Run):
    """A locust run against this server: its parameters, live state and final report."""

    concurrent_users = models.PositiveIntegerField()
    actions_per_second = models.PositiveIntegerField()
    duration = models.PositiveIntegerField(help_text="seconds")
    target = models.CharField(max_length=200, blank=True, help_text="the base URL locust ran against")
    report = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"stress test {self.pk} ({self.status})"


class DemoPopulation(Run):
    """A background run of ``demo_populate`` started from the demo controls; one at a time.

    Its live progress (step, done, total) is kept in the cache next to its heartbeat, not here: the populate
    writes its players inside a transaction of its own, where a progress row would not be seen until commit.
    """

    players = models.PositiveIntegerField()
    games = models.PositiveSmallIntegerField()
    scores = models.PositiveIntegerField(null=True, blank=True, help_text="scores in all; empty: 20 per player")
    created = models.BooleanField(default=False, help_text="False: demo data existed already; nothing was written")
    summary = models.JSONField(default=dict, blank=True, help_text="the demo data after the run")
    seconds = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"demo population {self.pk} ({self.status})"
