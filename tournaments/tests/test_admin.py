"""The Django admin: tournaments and recurring templates, every change through the services."""

from datetime import timedelta

import pytest
from django.contrib import messages
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import Score
from scores.services import score_submit
from tournaments import services
from tournaments.models import RecurringTournament, Status, Tournament, TournamentResult

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/tournaments/tournament/"
ADD = f"{CHANGELIST}add/"
RECURRING = "/admin/tournaments/recurringtournament/"
RECURRING_ADD = f"{RECURRING}add/"

NO_INLINES = {
    f"{prefix}-{name}": value
    for prefix in ("participants", "results")
    for name, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"), ("MIN_NUM_FORMS", "0"), ("MAX_NUM_FORMS", "0"))
}


@pytest.fixture
def admin_client(client):
    admin = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.admin = admin
    return client


def change_url(tournament: Tournament) -> str:
    return f"{CHANGELIST}{tournament.pk}/change/"


def split(moment) -> dict[str, str]:
    """A moment as the admin's split date and time inputs post it (UTC)."""
    return {"0": moment.strftime("%Y-%m-%d"), "1": moment.strftime("%H:%M:%S")}


def add_form(game, organizer, **changes) -> dict[str, str]:
    start = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    form = {
        "name": "Admin Cup",
        "description": "",
        "game": str(game.pk),
        "format": "best_score",
        "max_attempts": "",
        "max_participants": "64",
        "prize_pool": "1000",
        "prize_split": "[50, 30, 20]",
        "organizer": str(organizer.pk),
        "start": start,
        "end": start + timedelta(hours=2),
    } | changes
    start, end = form.pop("start"), form.pop("end")
    form |= {f"start_time_{key}": value for key, value in split(start).items()}
    form |= {f"end_time_{key}": value for key, value in split(end).items()}
    return form | NO_INLINES


def run_action(admin_client, action: str, *tournaments: Tournament):
    return admin_client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(t.pk) for t in tournaments]}, follow=True
    )


def shown(response) -> list[tuple[int, str]]:
    return [(message.level, message.message) for message in response.context["messages"]]


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


def play(tournament: Tournament, game, scores) -> None:
    for player, values in scores:
        services.tournament_join(tournament=tournament, user=player)
        for value in values:
            score_submit(user=player, game=game, value=value)


# Changelist and change page


def test_the_changelist_lists_tournaments_with_their_seats(admin_client, make_tournament):
    make_tournament(name="Spring Cup", max_participants=8)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Spring Cup" in content
    assert "0 / 8" in content


def test_the_changelist_filters_by_status_and_game_and_searches(admin_client, make_tournament):
    other_game = GameFactory(name="Other Game")
    running = make_tournament(name="Live Cup", running=True)
    make_tournament(name="Later Cup")
    elsewhere = make_tournament(name="Away Cup", game=other_game)

    by_status = admin_client.get(CHANGELIST, {"status__exact": "running"})
    by_game = admin_client.get(CHANGELIST, {"game__id__exact": str(other_game.pk)})
    by_search = admin_client.get(CHANGELIST, {"q": "Live"})

    assert by_status.status_code == by_game.status_code == by_search.status_code == 200
    assert list(by_status.context["cl"].result_list) == [running]
    assert list(by_game.context["cl"].result_list) == [elsewhere]
    assert list(by_search.context["cl"].result_list) == [running]


def test_the_change_page_shows_participants_and_results(admin_client, make_tournament, game, players):
    tournament = make_tournament(running=True, prize_pool=100)
    ace, bob = players[:2]
    play(tournament, game, [(ace, [70]), (bob, [40])])
    services.tournament_finish(tournament=tournament, now_=True)

    response = admin_client.get(change_url(tournament))

    assert response.status_code == 200
    inlines = {formset.formset.prefix: formset for formset in response.context["inline_admin_formsets"]}
    assert set(inlines) == {"participants", "results"}
    assert [p.user for p in inlines["participants"].formset.queryset] == [ace, bob]
    assert [(r.user, r.value, r.prize) for r in inlines["results"].formset.queryset] == [(ace, 70, 50), (bob, 40, 30)]
    assert ace.username in response.content.decode()


def test_the_change_page_of_a_scheduled_tournament_renders(admin_client, make_tournament):
    tournament = make_tournament()

    response = admin_client.get(change_url(tournament))

    assert response.status_code == 200
    assert "starts in" in response.content.decode()


def test_the_add_page_renders(admin_client):
    response = admin_client.get(ADD)

    assert response.status_code == 200
    assert "start_time" in response.context["adminform"].form.fields


# Add


def test_adding_a_tournament_creates_it_through_the_service(admin_client, game, organizer, monkeypatch):
    calls = []
    create = services.tournament_create
    monkeypatch.setattr(services, "tournament_create", lambda **kwargs: calls.append(kwargs) or create(**kwargs))

    response = admin_client.post(ADD, add_form(game, organizer))

    assert response.status_code == 302, form_errors(response)
    tournament = Tournament.objects.get()
    assert (tournament.name, tournament.game, tournament.organizer) == ("Admin Cup", game, organizer)
    assert (tournament.status, tournament.max_participants, tournament.prize_pool) == (Status.SCHEDULED, 64, 1000)
    assert tournament.prize_split == [50, 30, 20]
    assert [call["organizer"] for call in calls] == [organizer]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end": timezone.now() + timedelta(hours=1)}, "end_time"),
        (
            {"start": timezone.now() - timedelta(hours=3), "end": timezone.now() - timedelta(hours=1)},
            "end_time",
        ),
        ({"format": "limited_attempts"}, "max_attempts"),
        ({"prize_split": "[80, 30]"}, "prize_split"),
        ({"max_participants": "1"}, "max_participants"),
    ],
    ids=["end-before-start", "end-in-the-past", "limited-without-attempts", "split-over-100", "one-seat"],
)
def test_the_add_form_refuses_invalid_rules_and_creates_nothing(admin_client, game, organizer, changes, field):
    response = admin_client.post(ADD, add_form(game, organizer, **changes))

    assert response.status_code == 200  # the form again, with the error
    assert field in form_errors(response)
    assert not Tournament.objects.exists()


# Actions


def test_start_now_starts_a_scheduled_tournament_at_once(admin_client, make_tournament):
    tournament = make_tournament()

    response = run_action(admin_client, "start_now", tournament)

    assert response.status_code == 200
    tournament.refresh_from_db()
    assert tournament.status == Status.RUNNING
    assert tournament.start_time <= timezone.now()
    assert shown(response) == [(messages.SUCCESS, "Start now: 1 tournament(s).")]


def test_finish_now_freezes_the_results(admin_client, make_tournament, game, players):
    tournament = make_tournament(running=True, prize_pool=100)
    play(tournament, game, [(players[0], [10]), (players[1], [20])])

    run_action(admin_client, "finish_now", tournament)

    tournament.refresh_from_db()
    assert tournament.status == Status.FINISHED
    assert tournament.end_time <= timezone.now()
    results = TournamentResult.objects.filter(tournament=tournament)
    assert [(r.rank, r.user, r.value, r.prize) for r in results] == [(1, players[1], 20, 50), (2, players[0], 10, 30)]


def test_recompute_standings_rebuilds_the_results_from_the_scores(admin_client, make_tournament, game, players):
    ace, bob = players[:2]
    tournament = make_tournament(running=True, prize_pool=100)
    play(tournament, game, [(ace, [30, 50]), (bob, [40])])
    services.tournament_finish(tournament=tournament, now_=True)
    # A cheated score removed behind the service's back: the frozen results still show it.
    Score.objects.filter(user=ace, value=50).update(voided_at=timezone.now())

    response = run_action(admin_client, "recompute_standings", tournament)

    assert shown(response) == [(messages.SUCCESS, "Recompute standings: 1 tournament(s).")]
    results = TournamentResult.objects.filter(tournament=tournament)
    assert [(r.rank, r.user, r.value, r.prize) for r in results] == [(1, bob, 40, 50), (2, ace, 30, 30)]


def test_pay_prizes_credits_the_winners_once(admin_client, make_tournament, game, players):
    ace, bob, cid = players[:3]
    tournament = make_tournament(running=True, prize_pool=100, prize_split=[70, 30])
    play(tournament, game, [(ace, [3]), (bob, [2]), (cid, [1])])
    services.tournament_finish(tournament=tournament, now_=True)

    run_action(admin_client, "pay_prizes", tournament)
    run_action(admin_client, "pay_prizes", tournament)  # a second click pays nobody twice

    tournament.refresh_from_db()
    assert tournament.status == Status.PAID and tournament.paid_at is not None
    entries = CreditEntry.objects.filter(reference=f"tournament:{tournament.pk}:prize")
    assert sorted((entry.user.username, entry.amount, entry.kind) for entry in entries) == sorted(
        [(ace.username, 70, "prize"), (bob.username, 30, "prize")]
    )


def test_cancel_cancels_as_the_operator(admin_client, make_tournament):
    tournament = make_tournament()

    run_action(admin_client, "cancel", tournament)

    tournament.refresh_from_db()
    assert tournament.status == Status.CANCELLED and tournament.cancelled_at is not None


@pytest.fixture
def in_state(make_tournament):
    def make(state: str) -> Tournament:
        if state == Status.SCHEDULED:
            return make_tournament()
        tournament = make_tournament(running=True)
        if state == Status.FINISHED:
            tournament = services.tournament_finish(tournament=tournament, now_=True)
        elif state == Status.CANCELLED:
            tournament = services.tournament_cancel(tournament=tournament, actor=tournament.organizer)
        return tournament

    return make


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("start_now", Status.RUNNING),
        ("finish_now", Status.SCHEDULED),
        ("recompute_standings", Status.CANCELLED),
        ("pay_prizes", Status.SCHEDULED),
        ("pay_prizes", Status.RUNNING),
        ("cancel", Status.FINISHED),
    ],
)
def test_an_illegal_action_warns_and_changes_nothing(admin_client, in_state, action, state):
    tournament = in_state(state)
    before = Tournament.objects.filter(pk=tournament.pk).values().get()

    response = run_action(admin_client, action, tournament)

    assert response.status_code == 200
    [(level, message)] = shown(response)
    assert level == messages.WARNING
    assert message.startswith(f"{tournament.name}: ")
    assert Tournament.objects.filter(pk=tournament.pk).values().get() == before
    assert not CreditEntry.objects.exists()


def test_an_action_on_several_tournaments_moves_the_legal_ones_and_warns_about_the_rest(admin_client, make_tournament):
    scheduled = make_tournament(name="Waiting Cup")
    running = make_tournament(name="Live Cup", running=True)

    response = run_action(admin_client, "start_now", scheduled, running)

    scheduled.refresh_from_db()
    running.refresh_from_db()
    assert (scheduled.status, running.status) == (Status.RUNNING, Status.RUNNING)
    levels = sorted(level for level, _ in shown(response))
    assert levels == [messages.SUCCESS, messages.WARNING]


# Recurring tournaments


def recurring_form(game, organizer, **changes) -> dict[str, str]:
    return {
        "name": "Friday Night",
        "description": "",
        "game": str(game.pk),
        "format": "best_score",
        "max_attempts": "",
        "max_participants": "100",
        "prize_pool": "500",
        "prize_split": "[50, 30, 20]",
        "organizer": str(organizer.pk),
        "schedule": "0 18 * * 5",
        "duration": "02:00:00",
        "is_active": "on",
    } | changes


def test_adding_a_recurring_tournament_saves_it_and_shows_the_next_start(admin_client, game, organizer):
    response = admin_client.post(RECURRING_ADD, recurring_form(game, organizer))

    assert response.status_code == 302, form_errors(response)
    template = RecurringTournament.objects.get()
    assert (template.schedule, template.duration, template.organizer) == ("0 18 * * 5", timedelta(hours=2), organizer)
    expected = services.recurring_next_start(schedule="0 18 * * 5", after=timezone.now())
    listing = admin_client.get(RECURRING)
    page = admin_client.get(f"{RECURRING}{template.pk}/change/")
    assert listing.status_code == page.status_code == 200
    assert str(expected) in listing.content.decode()
    assert str(expected) in page.content.decode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"schedule": "61 18 * * 5"}, "schedule"),
        ({"schedule": "every friday"}, "schedule"),
        ({"schedule": "0 18 * * 5 2030"}, "schedule"),
        ({"duration": "00:00:30"}, "duration"),
        ({"duration": "32 00:00:00"}, "duration"),
        ({"format": "limited_attempts"}, "max_attempts"),
    ],
    ids=["minute-61", "words", "six-fields", "too-short", "too-long", "limited-without-attempts"],
)
def test_the_recurring_form_refuses_a_bad_schedule_or_rules(admin_client, game, organizer, changes, field):
    response = admin_client.post(RECURRING_ADD, recurring_form(game, organizer, **changes))

    assert response.status_code == 200
    assert field in form_errors(response)
    assert not RecurringTournament.objects.exists()


def test_an_inactive_template_shows_no_next_start(admin_client, game, organizer):
    template = RecurringTournament.objects.create(
        name="Paused",
        game=game,
        organizer=organizer,
        schedule="0 18 * * 5",
        duration=timedelta(hours=2),
        is_active=False,
    )

    response = admin_client.get(RECURRING)

    assert response.status_code == 200
    assert response.context["cl"].result_list[0] == template
    assert str(services.recurring_next_start(schedule="0 18 * * 5", after=timezone.now())) not in (
        response.content.decode()
    )
