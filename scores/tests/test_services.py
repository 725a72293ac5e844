import threading

import pytest
from django.db import connection

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from rankings.models import Standing
from scores.models import Score
from scores.services import BatchItem, score_submit, score_submit_batch


@pytest.mark.django_db
def test_a_submission_costs_a_fixed_number_of_queries(game, user, django_assert_num_queries):
    score_submit(user=user, game=game, value=1)  # first score creates the rows; measure a later one
    # player lock, standings read, standings write, the player's tournament seats, score insert,
    # plus the atomic block's savepoint pair
    with django_assert_num_queries(7):
        score_submit(user=user, game=game, value=2)


@pytest.mark.django_db
def test_a_submission_with_an_idempotency_key_costs_one_more_query(game, user, django_assert_num_queries):
    score_submit(user=user, game=game, value=1)
    with django_assert_num_queries(8):
        score_submit(user=user, game=game, value=2, idempotency_key="k-2")


@pytest.mark.django_db
def test_a_batch_reads_the_same_for_ten_players_or_a_hundred(game, server_key):
    from django.test.utils import CaptureQueriesContext

    def run(n):
        items = [BatchItem(p.pk, game.pk, i, {}, None) for i, p in enumerate(UserFactory.create_batch(n))]
        with CaptureQueriesContext(connection) as queries:
            score_submit_batch(api_key=server_key[0], items=items)
        # On PostgreSQL new ids come from the sequence in one more statement, before the rows go by COPY.
        return [q["sql"].split()[0] for q in queries.captured_queries if "nextval" not in q["sql"]]

    run(1)  # the process's caches (a game's leagues) warm, as a running server's are
    small, large = run(10), run(100)

    # games, key's games, the players (read by the statement that locks them), standings, tournament seats;
    # on PostgreSQL a hundred scores are merged into the standings by one statement that reads and writes them
    reads = [sum(query in ("SELECT", "WITH") for query in queries) for queries in (small, large)]
    assert reads == [5, 5]
    # Writes are bulk statements: SQLite splits them by its parameter limit, PostgreSQL sends one of each.
    assert len(large) < 20


@pytest.mark.django_db
def test_every_board_of_the_score_gets_one_standing(game, user):
    score_submit(user=user, game=game, value=5)

    boards = sorted(Standing.objects.filter(user=user).values_list("board", flat=True))

    assert len(boards) == 8
    assert f"game.{game.pk}.all" in boards and "global.all" in boards


@pytest.mark.django_db
def test_a_game_outside_global_feeds_only_its_own_boards(user):
    practice = GameFactory(counts_toward_global=False)

    score_submit(user=user, game=practice, value=5)

    assert not Standing.objects.filter(board__startswith="global").exists()


@pytest.mark.django_db
def test_sum_games_total_every_score(user):
    summed = GameFactory(score_operator="sum")
    for value in (5, 7, -2):
        score_submit(user=user, game=summed, value=value)

    assert Standing.objects.get(user=user, board=f"game.{summed.pk}.all").value == 10
    assert Standing.objects.get(user=user, board="global.all").value == 10


@pytest.mark.django_db
def test_a_sum_that_would_overflow_int64_is_refused_and_changes_nothing(user):
    from rankings.services import BoardValueOverflow

    summed = GameFactory(score_operator="sum")
    score_submit(user=user, game=summed, value=2**63 - 1)

    with pytest.raises(BoardValueOverflow):
        score_submit(user=user, game=summed, value=1)

    assert Score.objects.count() == 1
    assert Standing.objects.get(user=user, board=f"game.{summed.pk}.all").value == 2**63 - 1


@pytest.mark.django_db
def test_latest_games_keep_the_last_score(user):
    latest = GameFactory(score_operator="latest")
    for value in (50, 10, 30):
        score_submit(user=user, game=latest, value=value)

    assert Standing.objects.get(user=user, board=f"game.{latest.pk}.all").value == 30


@pytest.mark.django_db
def test_personal_best_follows_the_games_order(user):
    laps = GameFactory(sort_order="asc", score_operator="latest")

    flags = [score_submit(user=user, game=laps, value=v).score.is_personal_best for v in (9000, 9500, 8000)]

    assert flags == [True, False, True]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_of_one_idempotency_key_store_one_score(game, user):
    barrier = threading.Barrier(8)
    results = []

    def submit():
        try:
            barrier.wait()
            results.append(score_submit(user=user, game=game, value=42, idempotency_key="match-7"))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Score.objects.count() == 1
    assert len({result.score.pk for result in results}) == 1
    assert sorted(result.replayed for result in results) == [False] + [True] * 7


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scores_of_one_player_in_two_games_keep_the_global_sum_exact(user):
    games = [GameFactory(score_operator="sum"), GameFactory(score_operator="sum")]
    barrier = threading.Barrier(8)

    def submit(game):
        try:
            barrier.wait()
            for _ in range(5):
                score_submit(user=user, game=game, value=3)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(games[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Standing.objects.get(user=user, board="global.all").value == 8 * 5 * 3
