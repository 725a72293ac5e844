"""manage.py populate_demo: the shape of the demo data, idempotence, --reset."""

import threading
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import CreditEntry, User
from accounts.tests.factories import UserFactory
from games.models import Game
from games.tests.factories import GameFactory
from leagues.models import Cohort, League, Placement
from rankings.boards import game_board_at, global_board_at
from rankings.models import Standing
from rankings.periods import Period, period_window
from scores.models import Score
from scores.services import review_scan, score_submit
from simulator.selectors import demo_games, demo_players
from simulator.services import populate as populate_service
from tournaments.models import Participant, Status, Tournament, TournamentResult
from tournaments.services import board_of, prize_reference, tournaments_tick

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = ["--players", "30", "--games", "3", "--days", "5"]


@pytest.fixture(autouse=True)
def _index(ranking_index):
    return ranking_index


def populate(*args):
    out = StringIO()
    call_command("populate_demo", *SMALL, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def totals():
    return {
        model.__name__: model.objects.count()
        for model in (User, Game, Score, Standing, Tournament, Participant, TournamentResult, CreditEntry)
    }


def test_the_fourth_game_ranks_equal_word_counts_by_time():
    populate("--games", "4")

    sprint = demo_games().get(slug="word-sprint")
    assert (sprint.tiebreak_order, sprint.tiebreak_label, sprint.counts_toward_global) == ("asc", "time (ms)", False)
    scores = Score.objects.filter(game=sprint)
    assert scores.exists() and not scores.filter(tiebreak__isnull=True).exists()
    from rankings.selectors import board_top

    page = board_top(board=game_board_at(sprint, Period.ALL, timezone.now()), offset=0, limit=200)
    pairs = [(entry.value, entry.tiebreak) for entry in page.entries]
    assert pairs == sorted(pairs, key=lambda pair: (-pair[0], pair[1]))
    assert len({value for value, _ in pairs}) < len(pairs)  # equal word counts, told apart by time


def test_it_creates_a_game_of_every_kind():
    populate()

    kinds = set(demo_games().values_list("name", "sort_order", "score_operator"))
    assert kinds == {
        ("Galaxy Blaster", "desc", "best"),
        ("Lap Rush", "asc", "best"),
        ("Coin Collector", "desc", "sum"),
    }


def test_players_have_plausible_names_and_countries_and_cannot_sign_in():
    populate()

    players = list(demo_players().exclude(username="demo_podium"))
    assert len(players) == 30
    assert all(" " in p.display_name and p.country and not p.has_usable_password() for p in players)
    assert len({p.country.code for p in players}) > 3


def test_scores_spread_over_several_days_so_a_daily_board_differs_from_the_all_time_board():
    populate()

    scores = Score.objects.filter(game__in=demo_games())
    assert scores.count() == 600
    assert len({at.date() for at in scores.values_list("created_at", flat=True)}) >= 4
    game = demo_games().get(slug="coin-collector")
    now = timezone.now()
    today = dict(Standing.objects.filter(board=game_board_at(game, Period.DAILY, now).key).values_list("user", "value"))
    ever = dict(Standing.objects.filter(board=game_board_at(game, Period.ALL, now).key).values_list("user", "value"))
    assert today != ever
    assert Standing.objects.filter(board=global_board_at(Period.ALL, now).key).count() > 0


def test_tournaments_are_paid_running_and_open_for_registration():
    populate()

    listed = Tournament.objects.filter(listed=True)  # the league's cohorts are tournaments too, unlisted
    by_status = {status: list(listed.filter(status=status)) for status in Status.values}
    assert [len(by_status[s]) for s in (Status.PAID, Status.RUNNING, Status.SCHEDULED)] == [3, 3, 3]
    for paid in by_status[Status.PAID]:
        assert TournamentResult.objects.filter(tournament=paid).exists()
        winners = TournamentResult.objects.filter(tournament=paid, prize__gt=0)
        entries = CreditEntry.objects.filter(reference=prize_reference(paid))
        assert sorted(entries.values_list("user_id", "amount")) == sorted(winners.values_list("user_id", "prize"))
        assert entries.exists()
    for running in by_status[Status.RUNNING]:
        assert running.start_time < timezone.now() < running.end_time
        assert Standing.objects.filter(board=board_of(running).key).exists()
    for upcoming in by_status[Status.SCHEDULED]:
        assert upcoming.start_time > timezone.now()
        assert upcoming.participant_count == Participant.objects.filter(tournament=upcoming).count() > 0


def test_the_ranking_index_matches_the_standings():
    populate()

    call_command("check_rankings", stdout=StringIO())  # raises CommandError on drift


def test_the_demo_has_a_league_whose_cohorts_hold_this_weeks_players():
    populate()

    league = League.objects.get()
    assert (league.game.name, [t.name for t in league.tiers.order_by("level")]) == (
        "Galaxy Blaster",
        ["Bronze", "Silver", "Gold", "Diamond"],
    )
    week = period_window("weekly", timezone.now()).key
    players = set(
        Score.objects.filter(
            game=league.game, created_at__gte=period_window("weekly", timezone.now()).start
        ).values_list("user_id", flat=True)
    )
    assert set(Placement.objects.filter(period_key=week).values_list("user_id", flat=True)) == players
    assert all(cohort.size <= league.cohort_size for cohort in Cohort.objects.all())


def test_the_review_queue_finds_the_demos_suspicious_scores(settings):
    settings.MODERATION_SCAN_SETTLE_SECONDS = 0
    populate()

    flags = review_scan()

    galaxy = Game.objects.get(name="Galaxy Blaster")
    assert {flag.game_id for flag in flags} == {galaxy.pk}
    assert sorted(reason for flag in flags for reason in flag.reason_list) == ["outlier", "too_fast"]
    assert {flag.score.source for flag in flags} == {"client"}


def test_a_second_run_changes_nothing():
    populate()
    before = totals()

    out = populate()

    assert "already exists" in out
    assert totals() == before


def test_reset_deletes_the_demo_data_and_creates_it_again():
    populate()
    before = totals()
    old_games = set(demo_games().values_list("pk", flat=True))
    usernames = set(demo_players().values_list("username", flat=True))

    populate("--reset")

    assert totals() == before
    assert not old_games & set(demo_games().values_list("pk", flat=True))
    assert set(demo_players().values_list("username", flat=True)) == usernames  # same seed, same players
    assert not Standing.objects.filter(board__startswith=f"game.{next(iter(old_games))}.").exists()
    call_command("check_rankings", stdout=StringIO())


def test_reset_keeps_other_players_and_takes_the_demo_games_off_their_global_board():
    populate()
    outsider = UserFactory()
    own_game = GameFactory()
    score_submit(user=outsider, game=own_game, value=40)
    score_submit(user=outsider, game=demo_games().get(slug="galaxy-blaster"), value=1_000)

    populate("--reset")

    board = global_board_at(Period.ALL, timezone.now())
    assert Standing.objects.get(board=board.key, user=outsider).value == 40
    assert list(Score.objects.filter(user=outsider).values_list("value", flat=True)) == [40]
    call_command("check_rankings", stdout=StringIO())


def test_the_command_draws_a_bar_per_step_that_ends_full():
    err = StringIO()
    call_command("populate_demo", *SMALL, stdout=StringIO(), stderr=err)
    lines = [line.split("\r")[-1] for line in err.getvalue().split("\n") if line]
    assert [line.split()[0] for line in lines] == ["players", "scores", "tournaments"]
    assert all("[" + "#" * 30 + "]" in line for line in lines)
    assert "30/30" in lines[0] and "600/600" in lines[1]
    assert "9/9" in lines[2]  # per game: one paid, one running, one open for registration


def test_bad_sizes_are_refused():
    with pytest.raises(CommandError, match="games"):
        call_command("populate_demo", "--games", "9", stdout=StringIO(), stderr=StringIO())


def test_a_tournament_clock_ticking_meanwhile_never_sees_a_past_tournament_before_it_is_paid():
    stop = threading.Event()
    reports, errors = [], []

    def clock():
        try:
            while not stop.is_set():
                reports.append(tournaments_tick())
                time.sleep(0.005)
        except Exception as error:  # noqa: BLE001  reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    ticking = threading.Thread(target=clock)
    ticking.start()
    try:
        populate()
        populate("--reset")
    finally:
        stop.set()
        ticking.join(timeout=60)

    assert not errors and reports
    assert sum(report.failed for report in reports) == 0
    past = Tournament.objects.filter(end_time__lte=timezone.now())
    assert past.count() == 3
    for tournament in past:
        assert tournament.status == Status.PAID
        assert TournamentResult.objects.filter(tournament=tournament).count() == tournament.participant_count
        assert CreditEntry.objects.filter(reference=prize_reference(tournament)).count() == 3


def test_a_reset_that_fails_leaves_the_demo_that_was_there(monkeypatch):
    populate()
    before = totals()
    games = set(demo_games().values_list("pk", flat=True))

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(populate_service, "_open_registration", broken)
    with pytest.raises(RuntimeError):
        populate("--reset")

    assert totals() == before
    assert set(demo_games().values_list("pk", flat=True)) == games
    call_command("check_rankings", stdout=StringIO())


def test_a_first_run_that_fails_leaves_nothing_behind(monkeypatch):
    before = totals()

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(populate_service, "_open_registration", broken)
    with pytest.raises(RuntimeError):
        populate()

    assert totals() == before
