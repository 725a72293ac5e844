"""Leagues: placement in cohorts with the first score of a period, settlement exactly once, rewards."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from leagues.models import Cohort, League, Membership, Placement, Tier
from leagues.services import LeagueInvalid, TierSpec, cohort_settle, league_create, leagues_tick
from rankings.periods import period_window
from scores.services import ImportItem, score_import, score_submit
from tournaments.models import Status, Tournament
from tournaments.selectors import tournament_list, tournament_standings

pytestmark = pytest.mark.django_db(transaction=True)


def end_period(cohort: Cohort, *, key: str = "2026-W01") -> Cohort:
    """Move a cohort (and its tournament) into a period that is over, as if a week had passed."""
    end = timezone.now() - timedelta(seconds=1)
    start = end - timedelta(days=7)
    Tournament.objects.filter(pk=cohort.tournament_id).update(start_time=start, end_time=end)
    Cohort.objects.filter(pk=cohort.pk).update(period_key=key, period_start=start, period_end=end)
    Placement.objects.filter(cohort=cohort).update(period_key=key)
    return Cohort.objects.get(pk=cohort.pk)


def test_a_first_score_of_the_period_places_the_player_in_a_cohort_of_their_tier(make_league, game):
    make_league(cohort_size=3, promote=1, relegate=1)
    players = UserFactory.create_batch(4)

    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value * 10)
    score_submit(user=players[0], game=game, value=5)  # a second score of the period places nobody again

    cohorts = list(Cohort.objects.order_by("number"))
    assert [(c.tier.name, c.number, c.size) for c in cohorts] == [("Bronze", 1, 3), ("Bronze", 2, 1)]
    window = period_window("weekly", timezone.now())
    assert {c.period_key for c in cohorts} == {window.key}
    first = cohorts[0].tournament
    assert (first.status, first.listed, first.start_time, first.end_time) == (
        Status.RUNNING,
        False,
        window.start,
        window.end,
    )
    assert first.max_participants == 3 and "Arena League · Bronze" in first.name
    assert set(Placement.objects.values_list("user_id", flat=True)) == {p.pk for p in players}
    assert Membership.objects.filter(tier__name="Bronze").count() == 4
    standings = tournament_standings(tournament=first, offset=0, limit=10)
    assert [(row.username, row.value) for row in standings.rows] == [
        (players[2].username, 30),
        (players[1].username, 20),
        (players[0].username, 10),
    ]
    assert first not in tournament_list()  # cohorts stay off the tournament list


def test_scores_of_a_past_period_and_of_other_games_place_nobody(make_league, game):
    make_league()
    player = UserFactory()
    score_submit(user=player, game=GameFactory(), value=10)
    score_import(items=[ImportItem(player.pk, game.pk, 10, timezone.now() - timedelta(days=60))])

    assert not Placement.objects.exists()


def test_an_inactive_league_places_nobody(make_league, game):
    league = make_league()
    League.objects.filter(pk=league.pk).update(is_active=False)
    from leagues.services import _forget_leagues

    _forget_leagues()
    score_submit(user=UserFactory(), game=game, value=10)

    assert not Placement.objects.exists()


def test_a_game_servers_batch_places_its_players(make_league, game):
    make_league(cohort_size=2, promote=0, relegate=0)
    from accounts.services import api_key_create
    from scores.services import BatchItem, score_submit_batch

    api_key, _ = api_key_create(name="server", games=[game])
    players = UserFactory.create_batch(3)
    score_submit_batch(
        api_key=api_key, items=[BatchItem(p.pk, game.pk, 7 + i, {}, None) for i, p in enumerate(players)]
    )

    assert sorted(Cohort.objects.values_list("number", "size")) == [(1, 2), (2, 1)]


def settle_six(make_league, game, tier_name="Silver"):
    """Six players in one cohort of ``tier_name`` scoring 10..60, their period over."""
    league = make_league(cohort_size=6, promote=2, relegate=2)
    tier = Tier.objects.get(league=league, name=tier_name)
    players = UserFactory.create_batch(6)
    for player in players:
        Membership.objects.create(league=league, user=player, tier=tier)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value * 10)
    cohort = end_period(Cohort.objects.get())
    return league, cohort, players


def tiers_of(players):
    return [Membership.objects.get(user=p).tier.name for p in players]


def test_the_period_end_promotes_the_top_and_relegates_the_bottom_once(make_league, game):
    league, cohort, players = settle_six(make_league, game)

    settled = cohort_settle(cohort=cohort)

    assert len(settled) == 6
    assert tiers_of(players) == ["Bronze", "Bronze", "Silver", "Silver", "Gold", "Gold"]
    outcomes = {p.user_id: (p.position, p.outcome) for p in Placement.objects.all()}
    assert [outcomes[p.pk] for p in reversed(players)] == [
        (1, "promoted"),
        (2, "promoted"),
        (3, "stayed"),
        (4, "stayed"),
        (5, "relegated"),
        (6, "relegated"),
    ]
    cohort.refresh_from_db()
    assert cohort.settled_at is not None and cohort.tournament.status == Status.PAID
    prizes = dict(
        CreditEntry.objects.filter(reference=f"tournament:{cohort.tournament_id}:prize").values_list(
            "user_id", "amount"
        )
    )
    assert prizes == {players[5].pk: 30, players[4].pk: 18, players[3].pk: 12}  # Silver: 60 split 50/30/20

    assert cohort_settle(cohort=cohort) == []  # exactly once
    assert tiers_of(players) == ["Bronze", "Bronze", "Silver", "Silver", "Gold", "Gold"]
    assert CreditEntry.objects.filter(reference=f"tournament:{cohort.tournament_id}:prize").count() == 3


def test_nobody_rises_above_the_top_tier_nor_falls_below_the_lowest(make_league, game):
    _, cohort, players = settle_six(make_league, game, tier_name="Gold")
    cohort_settle(cohort=cohort)
    assert tiers_of(players) == ["Silver", "Silver", "Gold", "Gold", "Gold", "Gold"]


def test_the_lowest_tier_only_promotes(make_league, game):
    _, cohort, players = settle_six(make_league, game, tier_name="Bronze")
    cohort_settle(cohort=cohort)
    assert tiers_of(players) == ["Bronze", "Bronze", "Bronze", "Bronze", "Silver", "Silver"]


def test_a_cohort_is_not_settled_before_its_period_ends(make_league, game):
    make_league()
    score_submit(user=UserFactory(), game=game, value=10)
    cohort = Cohort.objects.get()

    with pytest.raises(LeagueInvalid):
        cohort_settle(cohort=cohort)
    assert leagues_tick() == 0


def test_the_tick_settles_what_is_due(make_league, game):
    _, cohort, players = settle_six(make_league, game)

    assert leagues_tick() == 1
    assert leagues_tick() == 0
    assert tiers_of(players)[-1] == "Gold"


def test_a_players_first_score_of_the_next_period_settles_their_cohort_and_places_them_in_their_new_tier(
    make_league, game
):
    _, cohort, players = settle_six(make_league, game)
    winner = players[-1]

    score_submit(user=winner, game=game, value=1)

    cohort.refresh_from_db()
    assert cohort.settled_at is not None
    current = Placement.objects.get(user=winner, period_key=period_window("weekly", timezone.now()).key)
    assert current.cohort.tier.name == "Gold"


def test_a_player_whose_score_was_voided_stays_in_their_tier(make_league, game):
    from scores.services import score_void

    league, cohort, players = settle_six(make_league, game)
    score = players[0].scores.get()
    staff = UserFactory(is_staff=True)
    Tournament.objects.filter(pk=cohort.tournament_id).update(end_time=timezone.now() + timedelta(hours=1))
    score_void(score=score, actor=staff, reason="Cheated.")
    cohort = end_period(cohort)

    cohort_settle(cohort=cohort)

    assert Placement.objects.get(user=players[0]).outcome == "stayed"
    assert tiers_of(players)[0] == "Silver"
    assert tiers_of(players)[1:3] == ["Bronze", "Bronze"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cohort_size": 1}, "cohort_size"),
        ({"cohort_size": 4, "promote": 3, "relegate": 2}, "promote"),
        ({"tiers": []}, "tiers"),
        ({"tiers": [TierSpec("A"), TierSpec("A")]}, "tiers"),
        ({"tiers": [TierSpec("A", reward_pool=-1)]}, "tiers"),
        ({"tiers": [TierSpec("A", reward_pool=10, reward_split=[70, 70])]}, "tiers"),
        ({"period": "all"}, "period"),
    ],
)
def test_a_league_that_cannot_work_is_refused(make_league, fields, field):
    with pytest.raises(LeagueInvalid) as refused:
        make_league(**fields)
    assert field in refused.value.fields
    assert not League.objects.exists()


def test_only_staff_create_leagues_and_not_on_synthetic_games(make_league):
    with pytest.raises(LeagueInvalid):
        make_league(organizer=UserFactory())
    with pytest.raises(LeagueInvalid):
        make_league(game=GameFactory(synthetic=True))
    league_create(organizer=UserFactory(is_staff=True), game=GameFactory(), name="L", slug="l", tiers=[TierSpec("A")])


def test_a_failing_placement_never_costs_the_player_their_score(make_league, game, monkeypatch, caplog):
    from leagues import services

    make_league()

    def broken(*args, **kwargs):
        raise RuntimeError("the league's books are closed")

    monkeypatch.setattr(services, "_new_cohort", broken)
    player = UserFactory()

    result = score_submit(user=player, game=game, value=10)

    assert result.score.pk and not Placement.objects.exists() and not Cohort.objects.exists()
    assert "league bookkeeping failed" in caplog.text
    monkeypatch.undo()
    score_submit(user=player, game=game, value=11)  # the next score places them
    assert Placement.objects.get().user == player


def test_a_period_longer_than_a_tournament_may_last_is_refused(make_league, settings):
    settings.TOURNAMENT_MAX_DAYS = 7
    with pytest.raises(LeagueInvalid) as refused:
        make_league(period="monthly")
    assert "period" in refused.value.fields
    make_league(period="weekly")
