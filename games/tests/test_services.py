import uuid

import pytest

from common.errors import DomainError
from games.models import INT64_MAX, INT64_MIN, Game
from games.services import GameInvalid, game_create, game_delete, game_update
from games.tests.factories import GameFactory

pytestmark = pytest.mark.django_db


def test_game_invalid_is_a_400_domain_error_with_code_invalid():
    error = GameInvalid(fields={"slug": ["Taken."]})

    assert isinstance(error, DomainError)
    assert (error.code, error.status_code, error.fields) == ("invalid", 400, {"slug": ["Taken."]})


# game_create: slugs


def test_create_makes_the_slug_from_the_name():
    game = game_create(name="Donkey Kong: Country!")

    assert game.slug == "donkey-kong-country"


def test_create_numbers_the_slug_when_the_name_is_taken():
    game_create(name="Tetris")
    game_create(name="Tetris")

    third = game_create(name="Tetris")

    assert third.slug == "tetris-3"


def test_create_falls_back_to_game_when_the_name_has_no_slug_characters():
    game = game_create(name="★★★")

    assert game.slug == "game"


def test_create_keeps_a_generated_slug_within_64_characters_with_its_suffix():
    game_create(name="x" * 100)

    second = game_create(name="x" * 100)

    assert second.slug == "x" * 56 + "-2"
    assert len(second.slug) <= 64


def test_create_never_generates_a_slug_that_looks_like_a_game_id():
    name = str(uuid.uuid4())

    game = game_create(name=name)

    with pytest.raises(ValueError):
        uuid.UUID(game.slug)


def test_create_keeps_an_explicit_slug():
    game = game_create(name="Tetris", slug="classic-tetris")

    assert game.slug == "classic-tetris"


def test_create_refuses_an_explicit_slug_that_is_taken():
    GameFactory(slug="chess")

    with pytest.raises(GameInvalid) as raised:
        game_create(name="Chess", slug="chess")

    assert list(raised.value.fields) == ["slug"]
    assert Game.objects.count() == 1


@pytest.mark.parametrize("slug", [str(uuid.uuid4()), uuid.uuid4().hex, str(uuid.uuid4()).upper()])
def test_create_refuses_a_slug_that_looks_like_a_game_id(slug):
    with pytest.raises(GameInvalid) as raised:
        game_create(name="Sneaky", slug=slug)

    assert list(raised.value.fields) == ["slug"]
    assert not Game.objects.exists()


# game_create: defaults and bounds


@pytest.mark.parametrize(("sort_order", "expected"), [("desc", True), ("asc", False)])
def test_create_counts_toward_global_follows_the_sort_order_by_default(sort_order, expected):
    game = game_create(name="Race", sort_order=sort_order)

    assert game.counts_toward_global is expected


@pytest.mark.parametrize(("sort_order", "given"), [("desc", False), ("asc", True)])
def test_create_keeps_an_explicit_counts_toward_global(sort_order, given):
    game = game_create(name="Race", sort_order=sort_order, counts_toward_global=given)

    assert game.counts_toward_global is given


def test_create_uses_the_model_defaults_for_other_fields():
    game = game_create(name="Plain")

    game.refresh_from_db()
    assert (game.sort_order, game.score_operator, game.is_active, game.rules) == ("desc", "best", True, {})
    assert (game.min_score, game.max_score) == (None, None)


def test_create_refuses_min_score_above_max_score():
    with pytest.raises(GameInvalid) as raised:
        game_create(name="Golf", min_score=1, max_score=0)

    assert list(raised.value.fields) == ["max_score"]
    assert not Game.objects.exists()


def test_create_accepts_the_int64_extremes():
    game = game_create(name="Wide", min_score=INT64_MIN, max_score=INT64_MAX)

    game.refresh_from_db()
    assert (game.min_score, game.max_score) == (INT64_MIN, INT64_MAX)


def test_create_accepts_a_single_bound():
    game = game_create(name="Floor", min_score=0)

    assert (game.min_score, game.max_score) == (0, None)


# game_update


def test_update_changes_only_the_given_fields():
    game = GameFactory(name="Old", description="Kept")

    game_update(game=game, name="New")

    game.refresh_from_db()
    assert (game.name, game.description) == ("New", "Kept")


def test_update_does_not_regenerate_the_slug_when_the_name_changes():
    game = GameFactory(name="Old", slug="old")

    game_update(game=game, name="Entirely New")

    game.refresh_from_db()
    assert game.slug == "old"


def test_update_checks_bounds_against_the_existing_values():
    game = GameFactory(min_score=0, max_score=100)

    with pytest.raises(GameInvalid) as raised:
        game_update(game=game, min_score=101)

    assert list(raised.value.fields) == ["max_score"]
    assert Game.objects.get(pk=game.pk).min_score == 0


def test_update_may_widen_both_bounds_at_once():
    game = GameFactory(min_score=0, max_score=10)

    game_update(game=game, min_score=50, max_score=60)

    game.refresh_from_db()
    assert (game.min_score, game.max_score) == (50, 60)


def test_update_refuses_a_slug_taken_by_another_game():
    GameFactory(slug="taken")
    game = GameFactory(slug="mine")

    with pytest.raises(GameInvalid) as raised:
        game_update(game=game, slug="taken")

    assert list(raised.value.fields) == ["slug"]
    assert Game.objects.get(pk=game.pk).slug == "mine"


def test_update_accepts_the_game_s_own_slug():
    game = GameFactory(slug="mine")

    game_update(game=game, slug="mine", name="Renamed")

    assert Game.objects.get(pk=game.pk).name == "Renamed"


def test_update_refuses_a_slug_that_looks_like_a_game_id():
    game = GameFactory(slug="mine")

    with pytest.raises(GameInvalid):
        game_update(game=game, slug=str(uuid.uuid4()))

    assert Game.objects.get(pk=game.pk).slug == "mine"


# game_delete


def test_delete_removes_the_game():
    game = GameFactory()

    game_delete(game=game)

    assert not Game.objects.filter(slug=game.slug).exists()


def test_delete_leaves_other_games():
    game, other = GameFactory(), GameFactory()

    game_delete(game=game)

    assert list(Game.objects.all()) == [other]


def test_the_admin_refuses_to_change_ranking_rules_of_a_game_with_scores(client, django_user_model):
    from accounts.tests.factories import UserFactory
    from scores.services import score_submit

    admin = UserFactory(is_staff=True, is_superuser=True)
    game = GameFactory(sort_order="desc", score_operator="best", counts_toward_global=True)
    score_submit(user=UserFactory(), game=game, value=5)
    client.force_login(admin)
    form = {
        field: getattr(game, field)
        for field in ["name", "slug", "description", "score_operator", "counts_toward_global", "is_active"]
    }
    form.update({"sort_order": "asc", "rules": "{}", "min_score": "", "max_score": ""})

    response = client.post(f"/admin/games/game/{game.pk}/change/", form)

    assert response.status_code == 200  # the form again, with the error
    assert "cannot change once a game has scores" in response.content.decode()
    game.refresh_from_db()
    assert game.sort_order == "desc"


def test_a_game_saved_in_the_admin_is_announced(client, django_capture_on_commit_callbacks):
    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = {"name": "Kart", "slug": "kart", "description": "", "rules": "{}", "sort_order": "desc"}
    form.update({"score_operator": "best", "counts_toward_global": "on", "is_active": "on"})
    form.update({"min_score": "", "max_score": ""})
    form.update({"score_authority": "client", "session_min_seconds": "0", "session_max_seconds": "3600"})
    form.update({"session_max_score_per_second": ""})

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/admin/games/game/add/", form)

    assert response.status_code == 302
    sent = [callback.args[0] for callback in callbacks if getattr(callback, "args", None)]
    assert [(channel, event) for batch in sent for channel, event, _ in batch] == [("game", "game.created")]


def test_the_admin_checks_tie_break_rules_and_creates_a_tie_break_game(client):
    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = {"name": "Race", "slug": "race", "description": "", "rules": "{}", "sort_order": "desc"}
    form.update({"score_operator": "best", "counts_toward_global": "on", "is_active": "on"})
    form.update({"min_score": "", "max_score": "", "tiebreak_order": "asc", "tiebreak_max": "", "tiebreak_label": ""})
    form.update({"score_authority": "client", "session_min_seconds": "0", "session_max_seconds": "3600"})
    form.update({"session_max_score_per_second": ""})

    refused = client.post("/admin/games/game/add/", form)

    assert refused.status_code == 200
    page = refused.content.decode()
    assert "A game with a tie-break score needs min_score and max_score." in page
    assert "cannot count toward the global board" in page
    assert not Game.objects.filter(slug="race").exists()

    form.update({"min_score": "0", "max_score": "3", "tiebreak_max": "600000", "tiebreak_label": "time (ms)"})
    del form["counts_toward_global"]
    assert client.post("/admin/games/game/add/", form).status_code == 302
    race = Game.objects.get(slug="race")
    assert (race.tiebreak_order, race.tiebreak_max, race.counts_toward_global) == ("asc", 600_000, False)
