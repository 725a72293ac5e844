from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from common.admin import form_with_actor
from common.errors import DomainError

from . import services
from .models import Cohort, League, Membership, Placement, Tier


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0
    fields = ["level", "name", "reward_pool", "reward_split"]
    ordering = ["level"]


class LeagueForm(forms.ModelForm):
    """A new league takes its tiers from a line each: ``name`` or ``name, reward pool``, the lowest first."""

    tier_lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Tiers",
        help_text="A new league's tiers, one a line from the lowest up: 'Bronze', or 'Gold, 100' for a reward pool of "
        "100 credits per cohort (split 50/30/20). Edit them below once the league exists.",
    )

    class Meta:
        model = League
        fields = ["name", "slug", "game", "period", "cohort_size", "promote", "relegate", "is_active"]

    def __init__(self, *args: object, actor: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.instance.pk or self.errors:
            return cleaned
        tiers = []
        for line in (cleaned.get("tier_lines") or "").splitlines():
            if not line.strip():
                continue
            name, _, pool = (part.strip() for part in line.partition(","))
            if pool and not pool.isdigit():
                raise forms.ValidationError(f"'{line}': the reward pool is a whole number of credits.")
            tiers.append(services.TierSpec(name, int(pool or 0)))
        try:
            self.instance = services.league_create(
                organizer=self.actor,
                game=cleaned["game"],
                name=cleaned["name"],
                slug=cleaned["slug"],
                period=cleaned["period"],
                cohort_size=cleaned["cohort_size"],
                promote=cleaned["promote"],
                relegate=cleaned["relegate"],
                tiers=tiers,
            )
        except DomainError as error:
            details = " ".join(text for texts in (error.fields or {}).values() for text in texts)
            raise forms.ValidationError(details or error.message) from None
        return cleaned


@admin.register(League)
class LeagueAdmin(admin.ModelAdmin):
    """Leagues of a game: players climb tiers period after period, in cohorts; a new league needs its tiers."""

    list_display = ["name", "game", "period", "cohort_size", "promote", "relegate", "is_active"]
    list_filter = ["is_active", "period", "game"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    form = LeagueForm
    actions = ["settle_due"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # its cohorts are the record of its periods: deactivate a league instead

    def get_form(self, request: HttpRequest, obj: League | None = None, **kwargs: object) -> type[forms.ModelForm]:
        return form_with_actor(super().get_form(request, obj, **kwargs), request.user)

    def get_fieldsets(self, request: HttpRequest, obj: League | None = None) -> list:
        fields = ["name", "slug", "game", "period", "cohort_size", "promote", "relegate", "is_active"]
        return [(None, {"fields": fields if obj else [*fields, "tier_lines"]})]

    def get_readonly_fields(self, request: HttpRequest, obj: League | None = None) -> list[str]:
        # A running league keeps its game, period and cohort shape: cohorts of this period were made with them.
        return ["game", "period", "cohort_size"] if obj else []

    def get_inlines(self, request: HttpRequest, obj: League | None) -> list:
        return [TierInline] if obj else []

    def save_model(self, request: HttpRequest, obj: League, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            services._forget_leagues()
        # A new league was created by the form's clean(), tiers and all.

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    @admin.action(description="Settle the selected leagues' cohorts whose period is over")
    def settle_due(self, request: HttpRequest, queryset: QuerySet[League]) -> None:
        settled = 0
        due = Cohort.objects.filter(league__in=queryset, settled_at__isnull=True, period_end__lte=timezone.now())
        for cohort in due.order_by("period_end", "pk"):
            settled += bool(services.cohort_settle(cohort=cohort))
        self.message_user(request, f"Settled {settled} cohort(s).", level=messages.INFO)


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["__str__", "league", "tier", "period_key", "number", "size", "tournament", "settled_at"]
    list_filter = ["league", "tier", "period_key", ("settled_at", admin.EmptyFieldListFilter)]
    readonly_fields = [field.name for field in Cohort._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # players are placed by their scores

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["tier"]

    def clean_tier(self) -> Tier:
        tier = self.cleaned_data["tier"]
        if tier.league_id != self.instance.league_id:
            raise forms.ValidationError("Pick a tier of this player's league.")
        return tier


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """The tier each player plays their next period in; staff may move a player by hand."""

    form = MembershipForm
    readonly_fields = ["user", "league", "joined_at", "updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    list_display = ["user", "league", "tier", "joined_at", "updated_at"]
    list_filter = ["league", "tier"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a player joins with their first score


@admin.register(Placement)
class PlacementAdmin(admin.ModelAdmin):
    list_display = ["user", "league", "period_key", "cohort", "position", "outcome", "next_tier"]
    list_filter = ["league", "period_key", "outcome"]
    search_fields = ["user__username"]
    readonly_fields = [field.name for field in Placement._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
