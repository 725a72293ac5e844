"""The contract every ranking backend meets, run against each (the Redis one on the real Redis)."""

import uuid
from datetime import timedelta

from games.models import INT64_MAX, INT64_MIN
from rankings.engine import StandingChange, StandingRow
from rankings.engine.base import percentile

from .conftest import T0, make_board


def ranks(entries):
    return [entry.rank for entry in entries]


def values(entries):
    return [entry.value for entry in entries]


def test_an_empty_board_has_nothing(engine):
    board = make_board()

    assert engine.top(board, offset=0, limit=10) == []
    assert engine.size(board) == 0
    assert engine.entry(board, uuid.uuid4()) is None
    assert engine.around(board, uuid.uuid4(), before=2, after=2) == []
    assert engine.entries(board, [uuid.uuid4()]) == []


def test_competition_ranking_on_a_descending_board(engine, load):
    board = make_board()
    load(board, [50, 70, 70, 90, 10])

    top = engine.top(board, offset=0, limit=10)

    assert values(top) == [90, 70, 70, 50, 10]
    assert ranks(top) == [1, 2, 2, 4, 5]


def test_competition_ranking_on_an_ascending_board(engine, load):
    board = make_board(descending=False)
    load(board, [50, 30, 30, 90, 10])

    top = engine.top(board, offset=0, limit=10)

    assert values(top) == [10, 30, 30, 50, 90]
    assert ranks(top) == [1, 2, 2, 4, 5]


def test_equal_values_are_listed_by_who_reached_them_first(engine, load):
    board = make_board()
    first, second, third = load(board, [70, 70, 70])

    top = engine.top(board, offset=0, limit=10)

    assert [entry.user_id for entry in top] == [first, second, third]
    assert ranks(top) == [1, 1, 1]
    assert top[0].reached_at == T0


def test_equal_values_reached_at_the_same_moment_are_listed_by_user_id(engine, load):
    board = make_board()
    users = load(board, [5, 5, 5, 5], spacing=timedelta(0))

    assert [entry.user_id for entry in engine.top(board, offset=0, limit=10)] == sorted(users, key=lambda u: u.bytes)


def test_a_page_starting_inside_a_tie_gives_the_tie_its_rank(engine, load):
    board = make_board()
    load(board, [100, 90, 90, 90, 80, 70])

    page = engine.top(board, offset=2, limit=3)

    assert values(page) == [90, 90, 80]
    assert ranks(page) == [2, 2, 5]


def test_paging_past_the_end_is_empty(engine, load):
    board = make_board()
    load(board, [3, 2, 1])

    assert engine.top(board, offset=3, limit=10) == []
    assert values(engine.top(board, offset=1, limit=10)) == [2, 1]


def test_one_players_entry_and_the_board_size(engine, load):
    board = make_board()
    users = load(board, [10, 40, 40, 20])

    entry = engine.entry(board, users[3])

    assert (entry.rank, entry.value) == (3, 20)
    assert engine.entry(board, users[2]).rank == 1
    assert engine.size(board) == 4
    assert percentile(entry.rank, engine.size(board)) == 50.0
    assert percentile(1, 4) == 100.0


def test_standings_give_the_players_entry_and_size_on_each_board(engine, load):
    first, second, empty = make_board("test.one"), make_board("test.two", descending=False), make_board("test.none")
    users = load(first, [10, 40, 40, 20])
    load(second, [5, 7])

    found = engine.standings([first, second, empty], users[3])

    assert [(entry and (entry.rank, entry.value), size) for entry, size in found] == [
        ((3, 20), 4),
        (None, 2),
        (None, 0),
    ]
    assert found[0][0] == engine.entry(first, users[3])


def test_around_a_player_in_the_middle(engine, load):
    board = make_board()
    users = load(board, [100, 90, 80, 70, 60, 50, 40])

    around = engine.around(board, users[3], before=2, after=2)

    assert values(around) == [90, 80, 70, 60, 50]
    assert ranks(around) == [2, 3, 4, 5, 6]


def test_around_is_clipped_at_the_top_and_the_bottom(engine, load):
    board = make_board()
    users = load(board, [100, 90, 80])

    assert values(engine.around(board, users[0], before=5, after=1)) == [100, 90]
    assert values(engine.around(board, users[2], before=1, after=5)) == [90, 80]


def test_around_a_player_inside_a_tie_ranks_the_tie_as_one(engine, load):
    board = make_board()
    users = load(board, [100, 90, 90, 90, 80])

    around = engine.around(board, users[3], before=1, after=1)

    assert values(around) == [90, 90, 80]
    assert ranks(around) == [2, 2, 5]


def test_around_a_player_not_on_the_board_is_empty(engine, load):
    board = make_board()
    load(board, [1, 2])

    assert engine.around(board, uuid.uuid4(), before=1, after=1) == []


def test_friends_board_lists_only_them_with_their_ranks_on_the_full_board(engine, load):
    board = make_board()
    users = load(board, [100, 90, 90, 50, 10])

    friends = engine.entries(board, [users[4], users[2], uuid.uuid4(), users[0]])

    assert [entry.user_id for entry in friends] == [users[0], users[2], users[4]]
    assert ranks(friends) == [1, 2, 5]


def test_values_are_exact_across_the_whole_signed_64_bit_range(engine, load):
    board = make_board()
    huge = 2**53
    load(board, [INT64_MAX, huge + 1, huge, 0, -1, INT64_MIN, INT64_MAX - 1])

    top = engine.top(board, offset=0, limit=10)

    assert values(top) == [INT64_MAX, INT64_MAX - 1, huge + 1, huge, 0, -1, INT64_MIN]
    assert ranks(top) == [1, 2, 3, 4, 5, 6, 7]


def test_a_newer_version_replaces_a_player_and_an_older_one_is_ignored(engine, load):
    board = make_board()
    users = load(board, [10, 20])

    engine.apply([StandingChange(board, users[0], 30, T0 + timedelta(hours=1), 3)])
    engine.apply([StandingChange(board, users[0], 5, T0 + timedelta(hours=2), 2)])
    from rankings.models import Standing

    Standing.objects.filter(board=board.key, user_id=users[0]).update(
        value=30, reached_at=T0 + timedelta(hours=1), version=3
    )

    assert values(engine.top(board, offset=0, limit=10)) == [30, 20]
    assert engine.size(board) == 2


def test_rebuild_replaces_the_board(engine, load):
    board = make_board()
    users = load(board, [10, 20, 30])
    from rankings.models import Standing

    Standing.objects.filter(board=board.key, user_id=users[0]).update(value=99, version=2)
    rows = [
        StandingRow(row.user_id, row.value, row.reached_at, row.version)
        for row in Standing.objects.filter(board=board.key)
    ]

    assert engine.rebuild(board, rows) == 3
    assert values(engine.top(board, offset=0, limit=10)) == [99, 30, 20]


def test_boards_are_independent(engine, load):
    first, second = make_board("test.one"), make_board("test.two", descending=False)
    load(first, [1, 2])
    load(second, [5])

    assert engine.size(first) == 2
    assert values(engine.top(second, offset=0, limit=5)) == [5]


def test_the_place_of_a_standing_not_on_the_board(engine, load):
    board = make_board()
    load(board, [90, 70, 70, 50])  # reached at T0, T0+1s, T0+2s, T0+3s

    # Better than all; inside a tie, after who reached it first; between two values; last.
    assert engine.place(board, value=100, reached_at=T0, user_id=uuid.uuid4()) == (0, 1)
    assert engine.place(
        board, value=70, reached_at=T0 + timedelta(seconds=1, milliseconds=500), user_id=uuid.uuid4()
    ) == (2, 2)
    assert engine.place(board, value=60, reached_at=T0, user_id=uuid.uuid4()) == (3, 4)
    assert engine.place(board, value=10, reached_at=T0, user_id=uuid.uuid4()) == (4, 5)


def test_the_place_on_an_ascending_board_and_an_empty_one(engine, load):
    board = make_board(descending=False)
    load(board, [10, 30])

    assert engine.place(board, value=20, reached_at=T0, user_id=uuid.uuid4()) == (1, 2)
    assert engine.place(board, value=INT64_MIN, reached_at=T0, user_id=uuid.uuid4()) == (0, 1)
    assert engine.place(make_board("test.empty"), value=INT64_MAX, reached_at=T0, user_id=uuid.uuid4()) == (0, 1)


def test_an_index_marked_complete_says_so(engine):
    engine.mark_complete(at=T0)

    assert engine.is_complete() is True


def test_a_separate_index_that_restarted_empty_is_not_complete(engine):
    engine.mark_complete(at=T0)
    if engine.name == "redis":
        engine.client.flushdb()  # what a restart without persistence leaves

    assert engine.is_complete() is (engine.name != "redis")
