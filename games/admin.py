from django import forms
from django.contrib import admin
from django.http import HttpRequest

from .models import Game
from .services import RANKING_FIELDS, GameRulesLocked, game_announce


class GameAdminForm(forms.ModelForm):
    class Meta:
        model = Game
        fields = "__all__"

    def clean(self) -> dict:
        cleaned = super().clean()
        changed = [name for name in RANKING_FIELDS if name in self.changed_data]
        if self.instance.pk and changed and self.instance.scores.exists():
            raise forms.ValidationError(GameRulesLocked.message)
        return cleaned


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    form = GameAdminForm
    list_display = ["name", "slug", "sort_order", "score_operator", "counts_toward_global", "is_active", "created_at"]
    list_filter = ["is_active", "is_synthetic", "sort_order", "score_operator", "counts_toward_global"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["id", "is_synthetic", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Game, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        game_announce(obj, "game.updated" if change else "game.created")
