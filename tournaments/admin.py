"""The operators' console: tournaments and recurring templates, with the lifecycle as admin actions.

Every change goes through the services, so the admin keeps the same rules
(seats, windows, states, exactly-once payouts) and publishes the same events as the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from croniter import CroniterError
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from leaderboard_project.errors import DomainError

from . import services
from .models import Participant, RecurringTournament, Status, Tournament, TournamentResult

RULE_FIELDS = ["format", "max_attempts", "max_participants", "prize_pool", "prize_split"]


def _check_rules(form: forms.ModelForm, cleaned: dict[str, Any]) -> None:
    try:
        cleaned["prize_split"] = services.tournament_validate_rules(
            format=cleaned.get("format"),
            max_attempts=cleaned.get("max_attempts"),
            max_participants=cleaned.get("max_participants") or 0,
            prize_pool=cleaned.get("prize_pool") or 0,
            prize_split=cleaned.get("prize_split") or [],
        )
    except services.TournamentInvalid as error:
        for field, problems in (error.fields or {}).items():
            form.add_error(field if field in form.fields else None, problems)


class TournamentAdminForm(forms.ModelForm):
    class Meta:
        model = Tournament
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "format" in self.fields:
            _check_rules(self, cleaned)
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if start and end:
            try:
                services.check_window(start, end)
            except services.TournamentInvalid as error:
                self.add_error("end_time", error.message)
            if self.instance.pk is None and end <= timezone.now():
                self.add_error("end_time", "Must be in the future.")
        seats = cleaned.get("max_participants")
        if self.instance.pk and seats is not None and seats < self.instance.participant_count:
            self.add_error("max_participants", f"{self.instance.participant_count} players have joined already.")
        return cleaned


class ParticipantInline(admin.TabularInline):
    model = Participant
    fields = ["user", "joined_at", "attempts_used"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ResultInline(admin.TabularInline):
    model = TournamentResult
    fields = ["position", "rank", "user", "value", "reached_at", "attempts_used", "prize"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _each(
    verb: str, step: Callable[..., Any], **extra: Any
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Tournament]], None]:
    """An admin action running one service step per selected tournament, reporting each refusal."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Tournament]) -> None:
        done = 0
        for tournament in queryset.order_by("pk"):
            kwargs = {key: (request.user if value is _ACTOR else value) for key, value in extra.items()}
            try:
                step(tournament=tournament, **kwargs)
            except DomainError as error:
                modeladmin.message_user(request, f"{tournament}: {error.message}", messages.WARNING)
            else:
                done += 1
        if done:
            modeladmin.message_user(request, f"{verb}: {done} tournament(s).", messages.SUCCESS)

    action.__name__ = verb.lower().replace(" ", "_")
    return action


_ACTOR = object()  # stands for the signed-in operator in an action's arguments


@admin.register(Tournament)
class TournamentAdmin(admin.ModelAdmin):
    form = TournamentAdminForm
    list_display = [
        "name",
        "game",
        "format",
        "status",
        "seats",
        "prize_pool",
        "start_time",
        "end_time",
        "organizer",
    ]
    list_filter = ["status", "game", "format"]
    search_fields = ["name", "description", "organizer__username", "game__name"]
    date_hierarchy = "start_time"
    list_select_related = ["game", "organizer"]
    autocomplete_fields = ["organizer"]
    inlines = [ParticipantInline, ResultInline]
    actions = [
        _each("Start now", services.tournament_start, now_=True),
        _each("Finish now", services.tournament_finish, now_=True),
        _each("Recompute standings", services.tournament_recompute),
        _each("Pay prizes", services.tournament_pay),
        _each("Cancel", services.tournament_cancel, actor=_ACTOR),
    ]
    computed = [
        "status",
        "participant_count",
        "time_left",
        "recurrence",
        "created_at",
        "started_at",
        "finished_at",
        "paid_at",
        "cancelled_at",
    ]

    @admin.display(description="seats")
    def seats(self, tournament: Tournament) -> str:
        return f"{tournament.participant_count} / {tournament.max_participants}"

    @admin.display(description="time left")
    def time_left(self, tournament: Tournament) -> str:
        # The add form shows this too, for an unsaved tournament with no times yet.
        if tournament.pk is None or tournament.status not in (Status.SCHEDULED, Status.RUNNING):
            return "-"
        now = timezone.now()
        if tournament.status == Status.SCHEDULED and tournament.start_time > now:
            return f"starts in {tournament.start_time - now}".split(".")[0]
        return f"ends in {max(tournament.end_time - now, timedelta(0))}".split(".")[0]

    def get_readonly_fields(self, request: HttpRequest, obj: Tournament | None = None) -> list[str]:
        if obj is None:
            return self.computed
        if obj.status != Status.SCHEDULED:
            # Once it runs, its game, rules and window are what the standings were computed with.
            return [*self.computed, "game", "start_time", "end_time", *RULE_FIELDS]
        return [*self.computed, "game"]

    def save_model(self, request: HttpRequest, obj: Tournament, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = {name: form.cleaned_data.get(name) for name in ["name", "description", "start_time", "end_time"]}
        data |= {name: form.cleaned_data.get(name) for name in RULE_FIELDS}
        created = services.tournament_create(organizer=form.cleaned_data["organizer"], game=obj.game, **data)
        obj.pk = created.pk
        obj.refresh_from_db()


class RecurringAdminForm(forms.ModelForm):
    class Meta:
        model = RecurringTournament
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _check_rules(self, cleaned)
        if cleaned.get("schedule") and cleaned.get("duration"):
            try:
                services.recurring_validate(schedule=cleaned["schedule"], duration=cleaned["duration"])
            except services.TournamentInvalid as error:
                for field, problems in (error.fields or {}).items():
                    self.add_error(field, problems)
        return cleaned


@admin.register(RecurringTournament)
class RecurringTournamentAdmin(admin.ModelAdmin):
    form = RecurringAdminForm
    list_display = ["name", "game", "schedule", "duration", "format", "prize_pool", "is_active", "next_start"]
    list_filter = ["is_active", "game", "format"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["organizer"]
    readonly_fields = ["created_at", "next_start"]

    @admin.display(description="next start (UTC)")
    def next_start(self, template: RecurringTournament) -> str:
        if not template.pk or not template.is_active:
            return "-"
        try:
            return str(services.recurring_next_start(schedule=template.schedule, after=timezone.now()))
        except CroniterError:
            return "never: the schedule names no time"
