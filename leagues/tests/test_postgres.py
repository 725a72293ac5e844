"""Placement and settlement under real concurrency: many connections to PostgreSQL at once."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from leagues.models import Cohort, Membership, Placement
from leagues.services import cohort_settle
from scores.services import score_submit
from tournaments.models import Participant, Tournament
from tournaments.tests.test_postgres import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_95_players_scoring_at_once_fill_cohorts_of_ten_to_the_brim(make_league, game):
    make_league(cohort_size=10, promote=2, relegate=2)
    players = UserFactory.create_batch(95)

    outcomes = at_once([lambda p=p: score_submit(user=p, game=game, value=10) for p in players])

    assert Counter(type(outcome).__name__ for outcome in outcomes) == {"SubmitResult": 95}
    cohorts = list(Cohort.objects.order_by("number"))
    assert [c.number for c in cohorts] == list(range(1, 11))
    assert sorted(c.size for c in cohorts) == [5] + [10] * 9
    for cohort in cohorts:
        assert Participant.objects.filter(tournament=cohort.tournament).count() == cohort.size
        assert Tournament.objects.get(pk=cohort.tournament_id).participant_count == cohort.size
    assert Placement.objects.count() == Membership.objects.count() == 95


def test_concurrent_settlements_move_each_player_once(make_league, game):
    make_league(cohort_size=6, promote=2, relegate=2)
    players = UserFactory.create_batch(6)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value)
    cohort = Cohort.objects.get()
    end = timezone.now() - timedelta(seconds=1)
    Tournament.objects.filter(pk=cohort.tournament_id).update(start_time=end - timedelta(days=7), end_time=end)
    Cohort.objects.filter(pk=cohort.pk).update(period_end=end)

    outcomes = at_once([lambda: cohort_settle(cohort=cohort) for _ in range(8)])

    assert sorted(len(outcome) for outcome in outcomes) == [0] * 7 + [6]
    tiers = Counter(Membership.objects.values_list("tier__name", flat=True))
    assert tiers == {"Bronze": 4, "Silver": 2}


def test_batches_placing_players_of_two_tiers_at_once_place_everyone(make_league, game):
    from accounts.services import api_key_create
    from leagues.models import Tier
    from scores.services import BatchItem, score_submit_batch

    league = make_league(cohort_size=50, promote=2, relegate=2)
    silver = Tier.objects.get(league=league, name="Silver")
    members, newcomers = UserFactory.create_batch(20), UserFactory.create_batch(20)
    for player in members:
        Membership.objects.create(league=league, user=player, tier=silver)
    api_key, _ = api_key_create(name="server", games=[game])

    def batch(pair):
        return score_submit_batch(api_key=api_key, items=[BatchItem(p.pk, game.pk, 10, {}, None) for p in pair])

    outcomes = at_once([lambda pair=pair: batch(pair) for pair in zip(members, newcomers, strict=True)])

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert Placement.objects.count() == 40  # no placement lost to a deadlock between two tiers' locks
    assert Counter(Placement.objects.values_list("cohort__tier__name", flat=True)) == {"Silver": 20, "Bronze": 20}
