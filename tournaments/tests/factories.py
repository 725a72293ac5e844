from datetime import timedelta

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from tournaments.models import Tournament


class TournamentFactory(factory.django.DjangoModelFactory):
    """A scheduled tournament starting in an hour and lasting two (use the services to move it on)."""

    class Meta:
        model = Tournament

    name = factory.Sequence(lambda n: f"Cup {n}")
    game = factory.SubFactory(GameFactory)
    organizer = factory.SubFactory(UserFactory)
    max_participants = 100
    prize_pool = 1000
    start_time = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    end_time = factory.LazyAttribute(lambda t: t.start_time + timedelta(hours=2))


def running_cup_with_two_scores(*, name: str, game=None, prize_pool: int = 100) -> Tournament:
    """A running tournament, through the services, where two players joined and scored 20 and 10."""
    from scores.services import score_submit
    from tournaments import services

    game = game or GameFactory()
    start = timezone.now() - timedelta(seconds=1)
    cup = services.tournament_create(
        organizer=UserFactory(is_staff=True),  # staff: the house funds the pool
        game=game,
        name=name,
        start_time=start,
        end_time=start + timedelta(hours=1),
        prize_pool=prize_pool,
    )
    cup = services.tournament_start(tournament=cup)
    for value, player in zip((20, 10), UserFactory.create_batch(2), strict=True):
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=game, value=value)
    return cup


def fund(user, credits: int = 1_000_000):
    """Credits a player can spend on prize pools, granted as a staff adjustment would."""
    from accounts.models import CreditEntry
    from accounts.tests.factories import CreditEntryFactory

    return CreditEntryFactory(user=user, amount=credits, kind=CreditEntry.Kind.ADJUSTMENT)
