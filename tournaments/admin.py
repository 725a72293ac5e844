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
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts.models import CreditEntry, User
from accounts.selectors import credit_balance
from common.errors import DomainError

from . import services
from .models import Participant, RecurringTournament, Status, Tournament, TournamentResult

RULE_FIELDS = ["format", "max_attempts", "max_participants", "prize_pool", "prize_split"]
# A tournament's page names its first few players and links to the list of them all: an inline of every
# participant made the page of a 150-player tournament over 10,000 pixels tall.
PARTICIPANTS_SHOWN = 10
RESULTS_SHOWN = 10
BY_TOURNAMENT = "tournament__id__exact"  # the participant list's filter, as the admin's own filters name it


def _player(user: User) -> str:
    """A player as the boards show them, with the username that identifies them."""
    return f"{user.display_name} ({user.username})" if user.display_name else user.username


def _participants_url(tournament: Tournament) -> str:
    return f"{reverse('admin:tournaments_participant_changelist')}?{urlencode({BY_TOURNAMENT: tournament.pk})}"


def _check_rules(form: forms.ModelForm, cleaned: dict[str, Any]) -> None:
    try:
        cleaned["prize_split"] = services.tournament_validate_rules(
            format=cleaned.get("format"),
            max_attempts=cleaned.get("max_attempts"),
            max_participants=cleaned.get("max_participants") or 0,
            prize_pool=cleaned.get("prize_pool") or 0,
            prize_split=cleaned.get("prize_split") or [],
            game=cleaned.get("game"),
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
        organizer, pool = cleaned.get("organizer"), cleaned.get("prize_pool")
        if self.instance.pk is None and organizer and pool and not organizer.is_staff:
            # A player organizer pays the pool from their balance, as through the API (staff pools: the house).
            have = credit_balance(user_id=organizer.pk)
            if have < pool:
                self.add_error("prize_pool", f"{organizer} has {have:,} credits: a player pays their own pool.")
        return cleaned


class ResultInline(admin.TabularInline):
    """The first places of a finished tournament; every place is on its page and in the standings API."""

    model = TournamentResult
    verbose_name_plural = f"results: the first {RESULTS_SHOWN} places"
    fields = ["position", "rank", "player", "value", "tiebreak", "reached_at", "attempts_used", "prize"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[TournamentResult]:
        return super().get_queryset(request).filter(position__lte=RESULTS_SHOWN).select_related("user")

    @admin.display(description="player")
    def player(self, result: TournamentResult) -> str:
        return _player(result.user)

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
    inlines = [ResultInline]
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
        "participant_list",
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

    @admin.display(description="participants")
    def participant_list(self, tournament: Tournament) -> str:
        if tournament.pk is None:
            return "-"
        total = tournament.participants.count()
        if not total:
            return "nobody yet"
        first = tournament.participants.select_related("user")[:PARTICIPANTS_SHOWN]
        names = ", ".join(_player(participant.user) for participant in first)
        more = f" and {total - PARTICIPANTS_SHOWN} more" if total > PARTICIPANTS_SHOWN else ""
        return format_html(
            '{}{}. <a href="{}">See all {} in the participant list</a>',
            names,
            more,
            _participants_url(tournament),
            total,
        )

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
        if CreditEntry.objects.filter(user_id=obj.organizer_id, reference=services.pool_reference(obj)).exists():
            # The organizer paid this pool from their balance: it stays what they paid.
            return [*self.computed, "game", "organizer", "prize_pool"]
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


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    """Seats, read-only: players join and leave through the services, which keep the seat count, the
    standings and the live events right. Reached from a tournament's page, filtered to that tournament."""

    list_display = ["player", "tournament", "joined_at", "attempts_used"]
    list_filter = ["tournament__status", "tournament__game"]
    search_fields = ["user__username", "user__display_name", "tournament__name"]
    list_select_related = ["user", "tournament"]
    fields = ["tournament", "user", "joined_at", "attempts_used"]

    @admin.display(description="player", ordering="user__username")
    def player(self, participant: Participant) -> str:
        return _player(participant.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Participant | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Participant | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        value = request.GET.get(BY_TOURNAMENT, "")
        named = value.isascii() and value.isdigit() and len(value) <= 18  # fits the id column; else no title
        tournament = Tournament.objects.filter(pk=int(value)).first() if named else None
        if tournament is not None:
            extra_context = {**(extra_context or {}), "title": f"Participants of {tournament.name}"}
        return super().changelist_view(request, extra_context)

    def render_change_form(
        self, request: HttpRequest, context: dict, *args: Any, obj: Participant | None = None, **kwargs: Any
    ) -> HttpResponse:
        if obj is not None:
            context["subtitle"] = f"{_player(obj.user)} in {obj.tournament.name}"  # not the ids of __str__
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


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
