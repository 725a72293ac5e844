"""Pages of leagues: the list, and one league: its tiers and this period's cohorts, and for a signed-in player
their tier, their cohort's live standings and how their last periods ended.

The player's cohort board follows ``tournament.{id}`` (its tournament's channel): a standings event re-reads
the board's part of the page.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_safe

from tournaments.selectors import tournament_standings

from . import selectors

COHORT_ROWS = 100


@require_safe
def league_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "leagues/list.html", {"leagues": list(selectors.league_list())})


@require_safe
def league_page(request: HttpRequest, league: str) -> HttpResponse:
    found = selectors.league_get(id_or_slug=league)
    if found is None or not found.is_active and not request.user.is_staff:
        raise Http404("No such league.")
    league = found
    window = selectors.league_window(league=league)
    cohorts = list(selectors.league_cohorts(league=league, period_key=window.key))
    tiers = [
        {
            "tier": tier,
            "cohorts": [c for c in cohorts if c.tier_id == tier.pk],
            "players": sum(c.size for c in cohorts if c.tier_id == tier.pk),
        }
        for tier in sorted(league.tiers.all(), key=lambda tier: -tier.level)
    ]
    standing = board = None
    if request.user.is_authenticated:
        standing = selectors.league_standing(league=league, user_id=request.user.pk)
        if standing.current is not None:
            tournament = standing.current.cohort.tournament
            board = tournament_standings(tournament=tournament, offset=0, limit=COHORT_ROWS)
    context = {
        "league": league,
        "window": window,
        "tiers": tiers,
        "standing": standing,
        "board": board,
        "moves": {"promote": league.promote, "relegate": league.relegate},
    }
    return render(request, "leagues/detail.html", context)


urlpatterns = [
    path("leagues/", league_list_page, name="league-pages"),
    path("leagues/<slug:league>/", league_page, name="league-page"),
]
