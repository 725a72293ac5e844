from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import ApiKey, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "display_name", "country", "is_staff", "is_active", "created_at"]
    list_filter = ["is_staff", "is_superuser", "is_active", "country"]
    search_fields = ["username", "email", "display_name"]
    ordering = ["username"]
    readonly_fields = ["created_at", "last_login"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Profile", {"fields": ["email", "display_name", "country"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "created_at"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "email", "password1", "password2"]}),
    ]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "game_list", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "games"]
    search_fields = ["name", "prefix"]
    filter_horizontal = ["games"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "games", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).prefetch_related("games")

    @admin.display(description="Games")
    def game_list(self, obj: ApiKey) -> str:
        return ", ".join(game.slug for game in obj.games.all()) or "none"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if not change:
            obj.created_by = request.user
            raw_key = services.api_key_issue_secret(api_key=obj)
            self.message_user(
                request,
                f"API key created. Copy it now, it will not be shown again: {raw_key}",
                level=messages.WARNING,
            )
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} API key(s).")
