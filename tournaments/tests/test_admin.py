"""The Django admin: tournaments and recurring templates, every change through the services."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib import messages
from django.db.models import Sum
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import Score
from scores.services import score_submit
from tournaments import services
from tournaments.admin import PARTICIPANTS_SHOWN, RESULTS_SHOWN
from tournaments.models import Participant, RecurringTournament, Status, Tournament, TournamentResult
from tournaments.tests.factories import fund

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/tournaments/tournament/"
ADD = f"{CHANGELIST}add/"
RECURRING = "/admin/tournaments/recurringtournament/"
RECURRING_ADD = f"{RECURRING}add/"
PARTICIPANTS = "/admin/tournaments/participant/"

NO_INLINES = {
    f"{prefix}-{name}": value
    for prefix in ("results",)
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
    assert set(inlines) == {"results"}
    assert [(r.user, r.value, r.prize) for r in inlines["results"].formset.queryset] == [(ace, 70, 50), (bob, 40, 30)]
    assert f"{ace.display_name} ({ace.username}), {bob.display_name} ({bob.username})." in response.content.decode()


@pytest.fixture
def crowded(make_tournament):
    """A running tournament with 150 participants, joined in order, and another tournament with one of them."""
    tournament = make_tournament(name="Big Cup", running=True, max_participants=150)
    players = UserFactory.create_batch(150)
    for player in players:
        services.tournament_join(tournament=tournament, user=player)
    other = make_tournament(name="Small Cup", running=True)
    services.tournament_join(tournament=other, user=players[0])
    return tournament, players


def test_the_change_page_of_a_150_player_tournament_has_no_participant_forms(admin_client, crowded):
    tournament, players = crowded

    response = admin_client.get(change_url(tournament))

    assert response.status_code == 200
    prefixes = {formset.formset.prefix for formset in response.context["inline_admin_formsets"]}
    assert "participants" not in prefixes
    assert 'name="participants-' not in response.content.decode()


def test_the_change_page_names_the_first_participants_by_display_name_and_username(admin_client, crowded):
    tournament, players = crowded

    content = admin_client.get(change_url(tournament)).content.decode()

    named = [player for player in players if f"{player.display_name} ({player.username})" in content]
    assert named == players[:PARTICIPANTS_SHOWN]
    assert f"and {150 - PARTICIPANTS_SHOWN} more" in content
    assert not any(str(player.pk) in content for player in players)  # nobody is labelled by their id


def test_the_change_page_links_to_the_participant_list_of_that_tournament(admin_client, crowded):
    tournament, players = crowded
    content = admin_client.get(change_url(tournament)).content.decode()
    (link,) = re.findall(r'href="(/admin/tournaments/participant/\?[^"]+)"', content)

    listing = admin_client.get(html.unescape(link))

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 150
    assert {participant.tournament_id for participant in listing.context["cl"].result_list} == {tournament.pk}
    assert f"Participants of {tournament.name}" in listing.content.decode()
    assert f"{players[0].display_name} ({players[0].username})" in listing.content.decode()


def test_a_tournament_without_players_says_so(admin_client, make_tournament):
    response = admin_client.get(change_url(make_tournament()))

    assert "nobody yet" in response.content.decode()


def test_the_participant_list_searches_by_player_and_filters_by_game(admin_client, make_tournament, players):
    ace, bob = players[:2]
    cup = make_tournament(running=True)
    away = make_tournament(name="Away Cup", running=True, game=GameFactory(name="Away Game"))
    services.tournament_join(tournament=cup, user=ace)
    services.tournament_join(tournament=away, user=bob)

    by_name = admin_client.get(PARTICIPANTS, {"q": ace.display_name})
    by_game = admin_client.get(PARTICIPANTS, {"tournament__game__id__exact": str(away.game_id)})

    assert [p.user for p in by_name.context["cl"].result_list] == [ace]
    assert [p.user for p in by_game.context["cl"].result_list] == [bob]


@pytest.mark.parametrize("value", ["x", "²", "9" * 30, ""])
def test_the_participant_list_survives_a_bad_tournament_filter(admin_client, value):
    response = admin_client.get(PARTICIPANTS, {"tournament__id__exact": value})

    assert response.status_code in (200, 302)


def test_participants_are_read_only_in_the_admin(admin_client, make_tournament, players):
    cup = make_tournament(running=True)
    services.tournament_join(tournament=cup, user=players[0])
    seat = Participant.objects.get(tournament=cup, user=players[0])

    page = admin_client.get(f"{PARTICIPANTS}{seat.pk}/change/")
    change = admin_client.post(f"{PARTICIPANTS}{seat.pk}/change/", {"attempts_used": "9"})
    add = admin_client.get(f"{PARTICIPANTS}add/")
    delete = admin_client.post(f"{PARTICIPANTS}{seat.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200
    assert f"{players[0].display_name} ({players[0].username}) in {cup.name}" in page.content.decode()
    assert (change.status_code, add.status_code, delete.status_code) == (403, 403, 403)
    assert Participant.objects.get(pk=seat.pk).attempts_used == 0


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


def test_finish_now_queues_the_payout_after_commit(
    admin_client, make_tournament, game, players, django_capture_on_commit_callbacks
):
    tournament = make_tournament(running=True, prize_pool=100)
    play(tournament, game, [(players[0], [10]), (players[1], [20])])

    with django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client, "finish_now", tournament)

    tournament.refresh_from_db()
    assert tournament.status == Status.PAID
    assert CreditEntry.objects.filter(user=players[1]).aggregate(total=Sum("amount"))["total"] == 50


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


def test_a_finished_150_player_tournament_shows_its_first_places_by_name_only(admin_client, crowded, game):
    tournament, players = crowded
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value)
    tournament = services.tournament_finish(tournament=tournament, now_=True)

    response = admin_client.get(change_url(tournament))

    content = response.content.decode()
    (results,) = [f for f in response.context["inline_admin_formsets"] if f.formset.model is TournamentResult]
    assert len(results.formset.forms) == RESULTS_SHOWN
    best = players[-1]
    assert f"{best.display_name} ({best.username})" in content
    assert not any(str(player.pk) in content for player in players)


def test_a_player_organizer_pays_the_pool_and_it_stays_fixed_once_paid(admin_client, game):
    player = UserFactory()

    refused = admin_client.post(ADD, add_form(game, player, prize_pool="500"))
    fund(player, 500)
    created = admin_client.post(ADD, add_form(game, player, prize_pool="500"))

    assert refused.status_code == 200 and "a player pays their own pool" in refused.content.decode()
    assert created.status_code == 302, form_errors(created)
    assert CreditEntry.objects.filter(user=player).aggregate(total=Sum("amount"))["total"] == 0
    cup = Tournament.objects.get()
    assert 'name="prize_pool"' not in admin_client.get(change_url(cup)).content.decode()
