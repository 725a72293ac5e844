from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from . import selectors, services
from .models import ApiKey, CreditEntry, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "display_name", "country", "is_staff", "is_active", "created_at"]
    list_filter = ["is_staff", "is_superuser", "is_active", "is_synthetic", "country"]
    search_fields = ["username", "email", "display_name"]
    ordering = ["username"]
    readonly_fields = ["created_at", "last_login", "credit_balance", "is_synthetic"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Profile", {"fields": ["email", "display_name", "country"]}),
        ("Credits", {"fields": ["credit_balance"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_synthetic", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "created_at"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "email", "password1", "password2"]}),
    ]

    @admin.display(description="Balance")
    def credit_balance(self, obj: User) -> str:
        entries = reverse("admin:accounts_creditentry_changelist") + f"?user__id__exact={obj.pk}"
        return format_html('{} (<a href="{}">entries</a>)', selectors.credit_balance(user_id=obj.pk), entries)


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


class CreditAdjustmentForm(forms.ModelForm):
    class Meta:
        model = CreditEntry
        fields = ["user", "amount", "description"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["description"].required = True
        self.fields["description"].help_text = "Why: shown to the player in their ledger."


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    """The ledger, read-only: an entry added here is a staff adjustment, written by the service."""

    list_display = ["created_at", "user", "amount", "kind", "reference", "description", "created_by"]
    list_filter = ["kind"]
    search_fields = ["user__username", "reference"]
    list_select_related = ["user", "created_by"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    fields = ["user", "amount", "kind", "reference", "description", "created_by", "created_at"]

    def get_fields(self, request: HttpRequest, obj: CreditEntry | None = None) -> list[str]:
        return list(CreditAdjustmentForm.Meta.fields) if obj is None else self.fields

    def get_form(self, request: HttpRequest, obj: CreditEntry | None = None, **kwargs: object) -> type[ModelForm]:
        if obj is None:
            kwargs["form"] = CreditAdjustmentForm
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: CreditEntry | None = None) -> bool:
        return False  # a mistake is corrected by another entry, so the history stays whole

    def has_delete_permission(self, request: HttpRequest, obj: CreditEntry | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CreditEntry, form: ModelForm, change: bool) -> None:
        entry = services.credit_adjust(
            user=obj.user, amount=obj.amount, description=obj.description, actor=request.user
        )
        obj.pk = entry.pk
        obj.refresh_from_db()
