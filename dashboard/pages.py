"""Pages that read several apps: the dashboard, a game's page, a player's page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from accounts import selectors as account_selectors
from accounts.permissions import hidden_viewer
from common.pages import page_number
from games.models import Game
from games.selectors import game_list
from rankings import selectors
from rankings.boards import Board, game_board_at, global_board_at
from rankings.periods import Period
from scores import selectors as score_selectors
from simulator.selectors import service_stats
from tournaments import selectors as tournament_selectors

from . import review

DASHBOARD_ROWS = 20  # the live channels carry a board's top 20
FEED_ITEMS = 20
CHART_MINUTES = 30
GAME_PAGE_ROWS = 50
AROUND_ROWS = 11  # the player, five above and five below


@dataclass(frozen=True)
class Tab:
    label: str
    url: str
    current: bool


def _period(request: HttpRequest) -> str:
    period = request.GET.get("period", Period.ALL)
    return period if period in Period.values else Period.ALL


def _query(**params: str | int | None) -> str:
    """A query string of the given parameters, leaving out defaults (all-time, page 1, the global board)."""
    kept = {k: v for k, v in params.items() if v not in (None, "", Period.ALL, 1)}
    return f"?{urlencode(kept)}" if kept else ""


def _period_tabs(base: str, period: str, **params: str | None) -> list[Tab]:
    return [Tab(label, base + _query(**params, period=value), value == period) for value, label in Period.choices]


def _urls() -> dict[str, str]:
    """Page addresses for the script, with ``__value__`` standing for the username or slug."""
    return {
        "player": reverse("player-page", args=["__value__"]),
        "game": reverse("game-page", args=["__value__"]),
    }


def _unit(game: Game) -> str:
    unit = game.rules.get("unit", "") if isinstance(game.rules, dict) else ""
    return unit if isinstance(unit, str) else ""


def _value_label(game: Game) -> str:
    unit = _unit(game)
    label = f"Score ({unit})" if unit else "Score"
    return f"{label} · {game.tiebreak_label or 'tie-break'}" if game.tiebreak_order else label


def _rules(game: Game) -> list[tuple[str, str]]:
    """The game's free-form rules as (label, text) pairs; the unit is shown with the values instead."""
    rules = game.rules if isinstance(game.rules, dict) else {}
    return [
        (key.replace("_", " ").capitalize(), value if isinstance(value, str) else json.dumps(value))
        for key, value in rules.items()
        if key not in ("demo", "unit")
    ]


def _window_label(board: Board) -> str:
    """The days a period board covers, in UTC ("" for all-time)."""
    window = board.window
    if window.start is None or window.end is None:
        return ""
    if window.period == Period.DAILY:
        return f"{window.start:%-d %b %Y}"
    if window.period == Period.MONTHLY:
        return f"{window.start:%B %Y}"
    return f"{window.start:%-d %b} – {window.end - timedelta(days=1):%-d %b %Y}"


def _board_info(board: Board, game: Game | None, api: str) -> dict[str, object]:
    """What the page's script needs to keep a board current."""
    period = board.window.period
    return {
        "period": period,
        "game_id": str(game.pk) if game else None,
        "api": api,
        # Only all-time boards have a channel; period boards are read again when scores arrive.
        "channel": (f"leaderboard.{game.pk}" if game else "leaderboard") if period == Period.ALL else None,
    }


@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    period = _period(request)
    games = list(game_list(is_active=True))
    slug = request.GET.get("game", "")
    game = next((g for g in games if g.slug == slug), None)
    board = game_board_at(game, period, now) if game else global_board_at(period, now)
    page = selectors.board_top(board=board, offset=0, limit=DASHBOARD_ROWS)
    api = reverse("leaderboard-game", args=[game.pk]) if game else reverse("leaderboard-global")
    api += "?" + urlencode({"period": period, "limit": DASHBOARD_ROWS})
    home = reverse("home")
    stats = service_stats(now=now)
    counters = {
        "players": stats["players"],
        "scores_today": score_selectors.scores_today(now=now),
        "scores_last_minute": stats["scores_last_minute"],
        "tournaments_running": stats["tournaments"]["running"],
    }
    context = {
        "board": board,
        "page": page,
        "game": game,
        "value_label": _value_label(game) if game else "Points",
        "period": period,
        "period_label": Period(period).label,
        "window_label": _window_label(board),
        "game_tabs": [Tab("Global", home + _query(period=period), game is None)]
        + [Tab(g.name, home + _query(game=g.slug, period=period), g == game) for g in games],
        "period_tabs": _period_tabs(home, period, game=game.slug if game else None),
        "feed": score_selectors.score_feed(limit=FEED_ITEMS),
        "counters": counters,
        "config": {
            "board": _board_info(board, game, api),
            "games": {str(g.pk): {"name": g.name, "slug": g.slug, "global": g.counts_toward_global} for g in games},
            "urls": _urls(),
            "stats_api": reverse("stats"),
            "feed_items": FEED_ITEMS,
            "rows": DASHBOARD_ROWS,
            "counters": counters,
            "chart": {
                "minutes": CHART_MINUTES,
                "end": now.isoformat(),
                "counts": score_selectors.scores_per_minute(now=now, minutes=CHART_MINUTES),
            },
        },
    }
    return render(request, "rankings/dashboard.html", context)


@require_safe
def game_page(request: HttpRequest, slug: str) -> HttpResponse:
    game = get_object_or_404(Game, slug=slug)
    now = timezone.now()
    period = _period(request)
    board = game_board_at(game, period, now)
    number = page_number(request)
    viewer = hidden_viewer(request.user)

    def top(number: int) -> selectors.BoardPage:
        offset = (number - 1) * GAME_PAGE_ROWS
        return selectors.board_top(board=board, offset=offset, limit=GAME_PAGE_ROWS, hidden_viewer=viewer)

    page = top(number)
    pages = max(1, -(-page.size // GAME_PAGE_ROWS))
    if number > pages:
        number = pages
        page = top(number)
    me = request.user if request.user.is_authenticated else None
    around = selectors.board_around(board=board, user_id=me.pk, limit=AROUND_ROWS, hidden_viewer=viewer) if me else None
    mine = next((e for e in around.entries if e.user_id == me.pk), None) if around else None
    # The page holding the player's rank; with ties across a page break they may be listed on the next one.
    my_page = (mine.rank - 1) // GAME_PAGE_ROWS + 1 if mine else None
    base = reverse("game-page", args=[game.slug])
    api = reverse("leaderboard-game", args=[game.pk])
    offset = (number - 1) * GAME_PAGE_ROWS
    context = {
        "game": game,
        "board": board,
        "page": page,
        "period": period,
        "period_label": Period(period).label,
        "window_label": _window_label(board),
        "period_tabs": _period_tabs(base, period),
        "number": number,
        "pages": pages,
        "previous_url": base + _query(period=period, page=number - 1) if number > 1 else None,
        "next_url": base + _query(period=period, page=number + 1) if number < pages else None,
        "unit": _unit(game),
        "value_label": _value_label(game),
        "rules": _rules(game),
        "around": around.entries if around else [],
        "mine": mine,
        "my_page_url": base + _query(period=period, page=my_page) if my_page and my_page != number else None,
        "config": {
            "board": _board_info(
                board, game, api + "?" + urlencode({"period": period, "offset": offset, "limit": GAME_PAGE_ROWS})
            ),
            "urls": _urls(),
            "channel": f"leaderboard.{game.pk}",
            "page": number,
            "offset": offset,
            "rows": GAME_PAGE_ROWS,
            "me": str(me.pk) if me else None,
            "around_api": api + "?" + urlencode({"period": period, "around": "me", "limit": AROUND_ROWS})
            if me
            else None,
        },
    }
    return render(request, "rankings/game.html", context)


# The chart draws at most this many of the player's latest scores; the table lists the first few.
HISTORY_LIMIT = 500
RECENT_ROWS = 20
PRIZES_LIMIT = 50


@require_safe
def player_page(request: HttpRequest, username: str) -> HttpResponse:
    player = account_selectors.user_get_by_username(username=username)
    if player is None:
        raise Http404("No such player.")
    if player.username != username:
        return redirect("player-page", username=player.username, permanent=True)
    now = timezone.now()
    standings = selectors.player_game_standings(user_id=player.pk, at=now)
    history = list(
        score_selectors.score_history(user_id=player.pk, viewer=request.user).select_related("game")[:HISTORY_LIMIT]
    )
    games = {game.pk: game for game, _ in standings} | {score.game.pk: score.game for score in history}
    chart = {
        "player": {"id": str(player.pk), "username": player.username},
        "games": [
            {
                "id": str(game.pk),
                "name": game.name,
                "slug": game.slug,
                "sort_order": game.sort_order,
                "score_operator": game.score_operator,
            }
            for game in sorted(games.values(), key=lambda game: game.name)
        ],
        # Oldest first, as the chart draws them; void scores count nowhere, so they are not drawn.
        "scores": [
            {
                "id": score.pk,
                "game_id": str(score.game_id),
                "value": score.value,
                "at": score.created_at.isoformat(),
                "personal_best": score.is_personal_best,
            }
            for score in reversed(history)
            if not score.is_void
        ],
    }
    context = {
        "player": player,
        "standings": standings,
        "global_standing": selectors.board_player(board=global_board_at(Period.ALL, now), user_id=player.pk),
        "credits": account_selectors.credit_balance(user_id=player.pk),
        "prizes": tournament_selectors.player_prizes(user_id=player.pk, limit=PRIZES_LIMIT),
        "prize_count": account_selectors.credit_prize_count(user_id=player.pk),
        "recent": history[:RECENT_ROWS],
        "recent_rows": RECENT_ROWS,
        "chart": chart,
        "is_me": request.user.is_authenticated and request.user.pk == player.pk,
    }
    return render(request, "accounts/player.html", context)


urlpatterns = [
    path("", dashboard, name="home"),
    path("games/<slug:slug>/", game_page, name="game-page"),
    path("players/<str:username>/", player_page, name="player-page"),
    *review.urlpatterns,
]
