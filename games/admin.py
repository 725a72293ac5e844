from django.contrib import admin

from .models import Game


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "sort_order", "score_operator", "counts_toward_global", "is_active", "created_at"]
    list_filter = ["is_active", "sort_order", "score_operator", "counts_toward_global"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["id", "created_at", "updated_at"]
