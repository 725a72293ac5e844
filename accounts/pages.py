"""Pages of players: a player's profile, and registration."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from rankings.boards import global_board_at
from rankings.periods import Period
from rankings.selectors import board_player, player_game_standings
from scores.selectors import score_history

from . import selectors, services
from .forms import RegisterForm
from .throttles import throttle_wait

# The chart draws at most this many of the player's latest scores; the table lists the first few.
HISTORY_LIMIT = 500
RECENT_ROWS = 20
PRIZES_LIMIT = 50


@require_safe
def player_page(request: HttpRequest, username: str) -> HttpResponse:
    player = selectors.user_get_by_username(username=username)
    if player is None:
        raise Http404("No such player.")
    if player.username != username:
        return redirect("player-page", username=player.username, permanent=True)
    now = timezone.now()
    standings = player_game_standings(user_id=player.pk, at=now)
    history = list(score_history(user_id=player.pk, viewer=request.user).select_related("game")[:HISTORY_LIMIT])
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
        "global_standing": board_player(board=global_board_at(Period.ALL, now), user_id=player.pk),
        "credits": selectors.credit_balance(user_id=player.pk),
        "prizes": selectors.credit_prizes(user_id=player.pk, limit=PRIZES_LIMIT),
        "prize_count": selectors.credit_prize_count(user_id=player.pk),
        "recent": history[:RECENT_ROWS],
        "recent_rows": RECENT_ROWS,
        "chart": chart,
        "is_me": request.user.is_authenticated and request.user.pk == player.pk,
    }
    return render(request, "accounts/player.html", context)


def sign_in_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A sign-in form's posts count against the API's sign-in limits; over them, a 429 page with Retry-After."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            wait = throttle_wait(request, "login")
            if wait is not None:
                seconds = int(wait) + 1
                response = render(request, "registration/throttled.html", {"seconds": seconds}, status=429)
                response["Retry-After"] = str(seconds)
                return response
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET", "HEAD", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("player-page", username=request.user.username)
    form = RegisterForm(request.POST or None)
    status = 200
    if request.method == "POST":
        wait = throttle_wait(request, "register")
        if wait is not None:
            form.is_valid()
            form.add_error(None, f"Too many registrations from here. Try again in {int(wait) + 1} seconds.")
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                user = services.user_register(
                    username=data["username"],
                    email=data["email"],
                    password=data["password"],
                    display_name=data["display_name"],
                    country=data["country"],
                )
            except services.AccountInvalid as error:
                # The form's fields carry the service's names; anything else is an error of the whole form.
                for name, errors in (error.fields or {None: [error.message]}).items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                login(request, user)
                messages.success(request, f"Welcome to Podium, {user.public_name}! This is your player page.")
                return redirect("player-page", username=user.username)
    return render(request, "accounts/register.html", {"form": form}, status=status)


urlpatterns = [
    path("players/<str:username>/", player_page, name="player-page"),
    path("accounts/register/", register, name="register"),
]
