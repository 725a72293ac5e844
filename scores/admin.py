from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import Score, ScoreAudit


class VoidActionForm(ActionForm):
    reason = forms.CharField(max_length=500, required=False, help_text="Why (required to void).")


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "game", "value", "source", "is_personal_best", "created_at", "voided_at"]
    list_filter = ["game", "source", ("voided_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["user__username", "idempotency_key"]
    list_select_related = ["user", "game"]
    raw_id_fields = ["user", "api_key", "voided_by"]
    readonly_fields = [field.name for field in Score._meta.fields]
    date_hierarchy = "created_at"
    action_form = VoidActionForm
    actions = ["void"]

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


@admin.register(ScoreAudit)
class ScoreAuditAdmin(admin.ModelAdmin):
    list_display = ["score", "action", "actor", "reason", "created_at"]
    list_filter = ["action"]
    readonly_fields = ["score", "action", "actor", "reason", "boards", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
