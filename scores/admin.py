from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ModerationAudit
from common.admin import form_with_actor
from common.errors import DomainError

from . import services
from .models import Score, ScoreAudit, ScoreFlag, ScoreStats, Suspicion
from .services import moderation


class VoidActionForm(ActionForm):
    reason = forms.CharField(max_length=500, required=False, help_text="Why (required to void or to shadow-ban).")


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "game", "value", "tiebreak", "source", "is_personal_best", "created_at", "voided_at"]
    list_filter = ["game", "source", ("voided_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["user__username", "idempotency_key"]
    list_select_related = ["user", "game"]
    raw_id_fields = ["user", "api_key", "voided_by"]
    readonly_fields = [field.name for field in Score._meta.fields]
    date_hierarchy = "created_at"
    action_form = VoidActionForm
    actions = ["void", "shadow_ban"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # scores come in through the API, which applies the game's rules

    @admin.action(description="Void the selected scores (recomputes their boards)")
    def void(self, request: HttpRequest, queryset: QuerySet[Score]) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason to void scores.", level=messages.ERROR)
            return
        voided = 0
        for score in queryset.filter(voided_at__isnull=True):
            services.score_void(score=score, actor=request.user, reason=reason)
            voided += 1
        self.message_user(request, f"Voided {voided} score(s); their boards were recomputed.")

    @admin.action(description="Shadow-ban the players of the selected scores")
    def shadow_ban(self, request: HttpRequest, queryset: QuerySet[Score]) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason to shadow-ban players.", level=messages.ERROR)
            return
        banned = 0
        for player in {score.user for score in queryset.select_related("user")}:
            if player.shadow_banned_at is None:
                moderation.player_shadow_ban(user=player, actor=request.user, reason=reason)
                banned += 1
        self.message_user(request, f"Shadow-banned {banned} player(s): their scores are shown to them only.")


class ModerationForm(forms.ModelForm):
    """A new moderation action, carried out when saved (``scores.services.moderation``)."""

    class Meta:
        model = ModerationAudit
        fields = ["user", "action", "reason"]

    def __init__(self, *args: object, actor: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean(self) -> dict:
        cleaned = super().clean()
        user, action = cleaned.get("user"), cleaned.get("action")
        if user is None or not action or not cleaned.get("reason"):
            return cleaned
        act = (
            moderation.player_shadow_ban
            if action == ModerationAudit.Action.SHADOW_BAN
            else moderation.player_shadow_ban_lift
        )
        try:
            self.instance = act(user=user, actor=self.actor, reason=cleaned["reason"])
        except DomainError as error:
            raise forms.ValidationError(error.message) from None
        return cleaned


@admin.register(ModerationAudit)
class ModerationAuditAdmin(admin.ModelAdmin):
    """Every shadow-ban and lift, who took it and why; adding one shadow-bans a player or lifts their ban."""

    list_display = ["user", "action", "actor", "reason", "standings", "created_at"]
    list_filter = ["action"]
    search_fields = ["user__username", "reason"]
    list_select_related = ["user", "actor"]
    raw_id_fields = ["user"]
    form = ModerationForm

    def get_form(self, request: HttpRequest, obj: object = None, **kwargs: object) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        return form_with_actor(form, request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: ModerationAudit | None = None) -> list[str]:
        return ["user", "action", "actor", "reason", "standings", "created_at"] if obj else []

    def save_model(self, request: HttpRequest, obj: ModerationAudit, form: forms.ModelForm, change: bool) -> None:
        """The form's clean() carried the action out and recorded it: nothing more to save."""

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ScoreAudit)
class ScoreAuditAdmin(admin.ModelAdmin):
    list_display = ["score", "action", "actor", "reason", "created_at"]
    list_filter = ["action"]
    readonly_fields = ["score", "action", "actor", "reason", "boards", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Suspicion.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[ScoreFlag]) -> QuerySet[ScoreFlag]:
        return queryset.filter(reasons__contains=self.value()) if self.value() else queryset


@admin.register(ScoreFlag)
class ScoreFlagAdmin(admin.ModelAdmin):
    """The review queue: suspicious scores found by the review scan. Staff dismiss a flag, void its score or
    shadow-ban its player with the actions below (a reason is required); each resolution keeps who and why."""

    list_display = ["id", "score", "user", "game", "value", "reasons", "status", "created_at", "resolved_by"]
    list_filter = ["status", ReasonFilter, "game", "created_at"]
    search_fields = ["user__username", "note"]
    list_select_related = ["score", "user", "game", "resolved_by"]
    readonly_fields = [field.name for field in ScoreFlag._meta.fields]
    date_hierarchy = "created_at"
    action_form = VoidActionForm
    actions = ["dismiss", "void", "ban"]

    @admin.display(description="score", ordering="score__value")
    def value(self, flag: ScoreFlag) -> int:
        return flag.score.value

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the review scan flags scores

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the queue is the record of what staff decided

    def _resolve(self, request: HttpRequest, queryset: QuerySet[ScoreFlag], action: str, done: str) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, f"Give a reason to {action} flags.", level=messages.ERROR)
            return
        resolved = 0
        for flag in queryset.filter(status=ScoreFlag.Status.OPEN).order_by("pk"):
            try:
                resolved += len(services.flag_resolve(flag=flag, actor=request.user, action=action, reason=reason))
            except services.FlagResolved:
                continue  # resolved with another one of the selection (a ban resolves the player's every flag)
        self.message_user(request, f"{done} {resolved} flag(s).")

    @admin.action(description="Dismiss the selected flags (the scores stand)")
    def dismiss(self, request: HttpRequest, queryset: QuerySet[ScoreFlag]) -> None:
        self._resolve(request, queryset, "dismiss", "Dismissed")

    @admin.action(description="Void the selected flags' scores (recomputes their boards)")
    def void(self, request: HttpRequest, queryset: QuerySet[ScoreFlag]) -> None:
        self._resolve(request, queryset, "void", "Voided the scores of")

    @admin.action(description="Shadow-ban the selected flags' players (resolves each open flag of theirs)")
    def ban(self, request: HttpRequest, queryset: QuerySet[ScoreFlag]) -> None:
        self._resolve(request, queryset, "ban", "Shadow-banned the players of")


@admin.register(ScoreStats)
class ScoreStatsAdmin(admin.ModelAdmin):
    """Each game's recent scores summed up, the bounds the review scan finds outliers beyond."""

    list_display = ["game", "samples", "median", "spread", "computed_at"]
    readonly_fields = ["game", "samples", "median", "spread", "computed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
