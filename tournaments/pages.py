"""Pages of tournaments: the list (running, upcoming, finished) with the create form, and one tournament.

Creating, joining and leaving are forms posting here; each calls the same
service as the REST API and redirects with a message. The pages' script then
follows the ``tournament`` and ``tournament.{id}`` channels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from common.errors import DomainError

from . import selectors, services
from .api import CreateThrottle, TournamentListApi
from .forms import TournamentCreateForm
from .models import Format, Status, Tournament

SECTION_LIMIT = 50
FINISHED_LIMIT = 20
RESULTS_LIMIT = 100
PARTICIPANTS_LIMIT = 100

SHORT_FORMAT = {
    Format.BEST_SCORE: "Best score",
    Format.CUMULATIVE: "Cumulative",
    Format.LIMITED_ATTEMPTS: "Limited attempts",
}


def _player(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_active else None


@dataclass(frozen=True)
class Row:
    """A tournament as the visitor sees it in a listing: what they may do with it."""

    tournament: Tournament
    action: str  # "join", "leave", "joined", "full", "closed" or "sign-in"

    @property
    def format_label(self) -> str:
        return format_label(self.tournament)


def format_label(tournament: Tournament) -> str:
    label = SHORT_FORMAT.get(tournament.format, tournament.format)
    if tournament.format == Format.LIMITED_ATTEMPTS:
        return f"{label} ({tournament.max_attempts})"
    return label


def _action(tournament: Tournament, user: User | None, joined: bool, now: datetime) -> str:
    if tournament.status not in (Status.SCHEDULED, Status.RUNNING) or tournament.end_time <= now:
        return "closed"
    if not tournament.listed:
        return "joined" if joined else "placed"  # a league's cohort: its league places the players
    if user is None:
        return "sign-in"
    if selectors.tournament_can_leave(tournament=tournament, joined=joined, now=now):
        return "leave"
    if joined:
        return "joined"
    if selectors.tournament_can_join(tournament=tournament, joined=joined, now=now):
        return "join"
    return "full"


def _duration(seconds: float) -> str:
    """``1 d 02:03:04`` or ``02:03:04``, as the page's script counts."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days} d {clock}" if days else clock


@dataclass(frozen=True)
class Countdown:
    label: str
    target: datetime | None  # what the script counts down to; None when nothing is left to count
    text: str


def _countdown(tournament: Tournament, now: datetime) -> Countdown:
    if tournament.status == Status.SCHEDULED:
        return Countdown("Starts in", tournament.start_time, _duration((tournament.start_time - now).total_seconds()))
    if tournament.status == Status.RUNNING:
        return Countdown("Ends in", tournament.end_time, _duration((tournament.end_time - now).total_seconds()))
    if tournament.status == Status.CANCELLED:
        return Countdown("Cancelled", None, "")
    return Countdown("Ended", None, "")


# --- the list and the create form ------------------------------------------------------


def _throttled(request: HttpRequest) -> timedelta | None:
    """The REST create endpoint's throttle, counted in the same place: how long to wait, or None."""
    throttle = CreateThrottle()
    if throttle.allow_request(request, TournamentListApi()):
        return None
    return timedelta(seconds=throttle.wait() or 0)


@require_http_methods(["GET", "HEAD", "POST"])
def tournament_list_page(request: HttpRequest) -> HttpResponse:
    """GET: the list; POST: create a tournament (signed-in players) and go to its page."""
    user = _player(request)
    form = TournamentCreateForm() if user else None
    status = 200
    if request.method == "POST":
        if user is None:
            messages.info(request, "Sign in to create a tournament.")
            return redirect_to_login(reverse("tournament-pages"))
        form = TournamentCreateForm(request.POST)
        if form.is_valid():
            wait = _throttled(request)
            if wait is not None:
                minutes = max(1, round(wait.total_seconds() / 60))
                form.add_error(None, f"You have created many tournaments lately: try again in {minutes} min.")
                status = 429
            else:
                try:
                    tournament = services.tournament_create(organizer=user, **form.service_arguments())
                except DomainError as error:
                    form.add_service_error(error)
                else:
                    messages.success(request, f"{tournament.name} is created. Players can join it now.")
                    return redirect("tournament-page", tournament_id=tournament.pk)
    now = timezone.now()
    sections = selectors.tournament_sections(limit=SECTION_LIMIT, finished_limit=FINISHED_LIMIT)
    listed = [*sections.running, *sections.upcoming, *sections.finished]
    joined = selectors.tournament_joined_ids(user=user, tournament_ids=[t.pk for t in listed])

    def rows(tournaments: list[Tournament]) -> list[Row]:
        return [Row(t, _action(t, user, t.pk in joined, now)) for t in tournaments]

    context = {
        "sections": [
            ("running", "Running", rows(sections.running), sections.running_total),
            ("upcoming", "Upcoming", rows(sections.upcoming), sections.upcoming_total),
            ("finished", "Finished", rows(sections.finished), sections.finished_total),
        ],
        "form": form,
        "page_data": {"page": "list"},
    }
    return render(request, "tournaments/list.html", context, status=status)


# --- one tournament ---------------------------------------------------------------------


@require_safe
def tournament_page(request: HttpRequest, tournament_id: int) -> HttpResponse:
    tournament = selectors.tournament_get(tournament_id=tournament_id)
    if tournament is None:
        raise Http404("No such tournament.")
    user = _player(request)
    now = timezone.now()
    joined = selectors.tournament_is_participant(tournament=tournament, user=user)
    frozen = tournament.status in (Status.FINISHED, Status.PAID)
    standings = selectors.tournament_standings(
        tournament=tournament, offset=0, limit=RESULTS_LIMIT if frozen else settings.REALTIME_BOARD_TOP
    )
    participants = list(selectors.tournament_participants(tournament=tournament)[:PARTICIPANTS_LIMIT])
    player_url = reverse("player-page", args=["USERNAME"])
    context = {
        "tournament": tournament,
        "format_label": format_label(tournament),
        "action": _action(tournament, user, joined, now),
        "joined": joined,
        "countdown": _countdown(tournament, now),
        "standings": standings,
        "frozen": frozen,
        "prizes": selectors.tournament_prize_table(tournament=tournament),
        "participants": participants,
        "page_data": {
            "page": "detail",
            "tournament_id": tournament.pk,
            "status": tournament.status,
            "frozen": frozen,
            "user_id": str(user.pk) if user else None,
            "player_url": player_url,
        },
    }
    return render(request, "tournaments/detail.html", context)


# --- join and leave ----------------------------------------------------------------------


def _back(request: HttpRequest, tournament_id: int) -> HttpResponseRedirect:
    """To the page the form was on (``next``), else the tournament's page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = reverse("tournament-page", kwargs={"tournament_id": tournament_id})
    return HttpResponseRedirect(target)


def _seat_change(request: HttpRequest, tournament_id: int, change: Callable[..., object], done: str) -> HttpResponse:
    """Call ``tournament_join`` or ``tournament_leave``; a refusal (full, not open, ...) becomes a message."""
    user = _player(request)
    if user is None:
        messages.info(request, "Sign in to join a tournament.")
        return redirect_to_login(reverse("tournament-page", kwargs={"tournament_id": tournament_id}))
    tournament = selectors.tournament_get(tournament_id=tournament_id)
    if tournament is None:
        raise Http404("No such tournament.")
    try:
        change(tournament=tournament, user=user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done.format(name=tournament.name))
    return _back(request, tournament_id)


@require_POST
def tournament_join_page(request: HttpRequest, tournament_id: int) -> HttpResponse:
    return _seat_change(request, tournament_id, services.tournament_join, "You joined {name}.")


@require_POST
def tournament_leave_page(request: HttpRequest, tournament_id: int) -> HttpResponse:
    return _seat_change(request, tournament_id, services.tournament_leave, "You left {name}.")


urlpatterns = [
    path("tournaments/", tournament_list_page, name="tournament-pages"),
    path("tournaments/<int:tournament_id>/", tournament_page, name="tournament-page"),
    path("tournaments/<int:tournament_id>/join", tournament_join_page, name="tournament-page-join"),
    path("tournaments/<int:tournament_id>/leave", tournament_leave_page, name="tournament-page-leave"),
]
