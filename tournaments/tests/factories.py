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
