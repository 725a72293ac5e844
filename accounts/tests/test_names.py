"""Player names for boards: cached per process, forgotten when the player changes."""

import uuid

import pytest

from accounts.selectors import user_names
from accounts.services import user_update

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_names_read_again_within_the_cache_time_cost_no_query(django_assert_num_queries):
    players = UserFactory.create_batch(3)
    ids = [p.pk for p in players]
    with django_assert_num_queries(1):
        first = user_names(user_ids=ids)
    with django_assert_num_queries(0):
        again = user_names(user_ids=ids)

    assert first == again == {p.pk: (p.username, p.display_name) for p in players}


def test_a_rename_is_seen_at_once(settings):
    player = UserFactory(display_name="Old")
    user_names(user_ids=[player.pk])

    user_update(user=player, display_name="New")

    assert user_names(user_ids=[player.pk])[player.pk][1] == "New"


def test_names_expire(settings, django_assert_num_queries):
    settings.PLAYER_NAME_CACHE_SECONDS = 0
    player = UserFactory()
    user_names(user_ids=[player.pk])

    with django_assert_num_queries(1):
        user_names(user_ids=[player.pk])


def test_unknown_players_have_no_name():
    assert user_names(user_ids=[uuid.uuid4()]) == {}
