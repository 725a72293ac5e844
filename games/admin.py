from django import forms
from django.contrib import admin
from django.http import HttpRequest

from .models import Game
from .services import GameRulesLocked, game_announce, ranking_fields
from .tiebreak import tiebreak_check


class GameAdminForm(forms.ModelForm):
    class Meta:
        model = Game
        fields = "__all__"

    def clean(self) -> dict:
        cleaned = super().clean()
        saved = Game.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        changed = [name for name in ranking_fields(saved) if name in self.changed_data] if saved else []
        if changed and saved.scores.exists():
            raise forms.ValidationError(GameRulesLocked.message)
        rules = Game(**{name: cleaned.get(name) for name in ("sort_order", "min_score", "max_score", "tiebreak_max")})
        rules.tiebreak_order = cleaned.get("tiebreak_order") or ""
        errors = tiebreak_check(
            rules,
            operator=cleaned.get("score_operator", ""),
            counts_toward_global=bool(cleaned.get("counts_toward_global")),
        )
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)
        return cleaned


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    form = GameAdminForm
    list_display = [
        "name",
        "slug",
        "sort_order",
        "score_operator",
        "tiebreak_order",
        "counts_toward_global",
        "is_active",
        "created_at",
    ]
    list_filter = ["is_active", "is_synthetic", "sort_order", "score_operator", "counts_toward_global"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["id", "is_synthetic", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Game, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        game_announce(obj, "game.updated" if change else "game.created")
