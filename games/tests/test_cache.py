"""The per-process game cache of the hot paths: fresh after a save in this process, bounded in time elsewhere."""

import pytest

from games.models import Game
from games.selectors import game_get_cached, games_cached
from games.tests.factories import GameFactory

pytestmark = pytest.mark.django_db


def test_a_game_is_read_once_then_kept(django_assert_num_queries):
    game = GameFactory(slug="arena")
    game_get_cached(id_or_slug="arena")

    with django_assert_num_queries(0):
        assert game_get_cached(id_or_slug="arena").pk == game.pk


def test_a_save_in_this_process_is_seen_at_once():
    game = GameFactory(slug="arena", score_authority="client")
    assert game_get_cached(id_or_slug=str(game.pk)).score_authority == "client"

    Game.objects.filter(pk=game.pk).update(score_authority="server")
    assert game_get_cached(id_or_slug=str(game.pk)).score_authority == "client"  # another process's change
    game.score_authority = "server"
    game.save()

    assert game_get_cached(id_or_slug=str(game.pk)).score_authority == "server"


def test_another_process_change_is_seen_once_the_entry_is_old(settings):
    game = GameFactory(slug="arena", score_authority="client")
    game_get_cached(id_or_slug="arena")
    Game.objects.filter(pk=game.pk).update(score_authority="server")  # as another process would, no signal here
    stamp, kept = games_cached.entries["arena"]
    games_cached.entries["arena"] = (stamp - settings.GAME_CACHE_SECONDS, kept)

    assert game_get_cached(id_or_slug="arena").score_authority == "server"


def test_an_unknown_game_is_not_kept_and_nothing_is_kept_at_zero_seconds(settings):
    assert game_get_cached(id_or_slug="nowhere") is None
    assert games_cached.entries == {}
    settings.GAME_CACHE_SECONDS = 0
    GameFactory(slug="arena")

    assert game_get_cached(id_or_slug="arena") is not None
    assert games_cached.entries == {}
