import factory

from games.models import Game


class GameFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Game

    name = factory.Sequence(lambda n: f"Game {n}")
    slug = factory.Sequence(lambda n: f"game-{n}")
    sort_order = "desc"
    score_operator = "best"
