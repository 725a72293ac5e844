import factory

from games.models import Game


class GameFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Game

    name = factory.Sequence(lambda n: f"Game {n}")
    slug = factory.Sequence(lambda n: f"game-{n}")
    sort_order = "desc"
    score_operator = "best"

    class Params:
        # A game for load tools: synthetic players only, never on the global board.
        synthetic = factory.Trait(is_synthetic=True, counts_toward_global=False)
