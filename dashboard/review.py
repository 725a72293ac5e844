"""The review queue's page (staff): flagged scores, newest first, each resolved with a reason.

The queue follows the staff-only ``moderation`` channel (the page carries the staff member's access token for
it): a new flag or a resolution re-reads the table from the server. Resolving posts the form to this page,
which calls ``scores.services.flag_resolve`` as the API does.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import urlencode
from rest_framework_simplejwt.tokens import AccessToken

from common.errors import DomainError
from common.pages import page_number, staff_only
from games.models import Game
from games.selectors import game_list
from scores import selectors
from scores.models import ScoreFlag, Suspicion
from scores.services import flag_resolve

REVIEW_ROWS = 50
STATUSES = [("open", "Open"), ("dismissed", "Dismissed"), ("voided", "Voided"), ("banned", "Banned"), ("all", "All")]


class ResolveForm(forms.Form):
    flag = forms.IntegerField(min_value=1)
    action = forms.ChoiceField(choices=[("dismiss", "Dismiss"), ("void", "Void score"), ("ban", "Shadow-ban player")])
    reason = forms.CharField(max_length=500, strip=True)


def _filters(request: HttpRequest) -> tuple[str, Game | None, str | None]:
    status = request.GET.get("status", "open")
    status = status if status in dict(STATUSES) else "open"
    game = game_list(synthetic=False).filter(slug=request.GET.get("game") or "").first()
    reason = request.GET.get("reason")
    return status, game, reason if reason in Suspicion.values else None


def _describe(flag: ScoreFlag) -> list[tuple[str, str]]:
    """Each reason of a flag with what was measured, in words."""
    described = []
    for reason in flag.reason_list:
        detail = flag.detail.get(reason, {})
        if reason == Suspicion.OUTLIER:
            sigmas, median, limit = detail.get("sigmas"), detail.get("median"), detail.get("limit")
            text = f"{sigmas}× the spread past the median {median} (limit {limit}×)"
        elif reason == Suspicion.TOO_FAST:
            text = f"{detail.get('seconds')} s after the previous score (limit {detail.get('limit')} s)"
        else:
            text = f"{detail.get('in_hour')} scores within an hour (limit {detail.get('limit')})"
        described.append((Suspicion(reason).label, text))
    return described


@staff_only()
def review_page(request: HttpRequest) -> HttpResponse:
    """GET: the queue, filtered by status, game and reason; POST: resolve one flag."""
    if request.method == "POST":
        form = ResolveForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give a reason (at most 500 characters) and pick an action.")
            return redirect(request.get_full_path())
        flag = ScoreFlag.objects.filter(pk=form.cleaned_data["flag"]).first()
        if flag is None:
            messages.error(request, "No such flag.")
            return redirect(request.get_full_path())
        try:
            resolved = flag_resolve(
                flag=flag, actor=request.user, action=form.cleaned_data["action"], reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Flag #{flag.pk}: {resolved[0].get_status_display().lower()}.")
            if len(resolved) > 1:
                messages.info(request, f"{len(resolved) - 1} more open flag(s) of the player resolved with it.")
        return redirect(request.get_full_path())
    status, game, reason = _filters(request)
    flags = selectors.flags_list(status=None if status == "all" else status, game=game, reason=reason)
    number = page_number(request)
    rows = list(flags[(number - 1) * REVIEW_ROWS : number * REVIEW_ROWS + 1])
    query = {key: value for key, value in (("game", game and game.slug), ("reason", reason)) if value}
    context = {
        "flags": [(flag, _describe(flag)) for flag in rows[:REVIEW_ROWS]],
        "open_count": selectors.flags_open_count(),
        "status": status,
        "game": game,
        "reason": reason,
        "games": game_list(synthetic=False),
        "reasons": Suspicion.choices,
        "tabs": [(value, label, "?" + urlencode({"status": value, **query})) for value, label in STATUSES],
        "page": number,
        "previous": "?" + urlencode({"status": status, **query, "page": number - 1}) if number > 1 else None,
        "next": "?" + urlencode({"status": status, **query, "page": number + 1}) if len(rows) > REVIEW_ROWS else None,
        "ws_token": str(AccessToken.for_user(request.user)),
    }
    response = render(request, "moderation/review.html", context)
    response["Cache-Control"] = "private, no-store"  # it carries the staff member's token
    return response


urlpatterns = [path("moderation/", review_page, name="review-page")]
