"""Property tests: scores written by ``standings_record_scores`` read back the same through every backend
as from a plain-Python model of the ranking semantics (docs/rankings.md) (``reference.py``).

Each example builds a small world (games with random direction, operator and
global flag; a few players; a run of scores over ~70 days), writes it through
the real service (on the Redis backend the index receives it from the
after-commit hook, never from a rebuild), then compares every board the scores
touched, game and global, in every period, with the model.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from itertools import groupby

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from accounts.tests.factories import UserFactory
from games.models import INT64_MAX, INT64_MIN
from games.tests.factories import GameFactory
from rankings import index
from rankings.boards import Board, game_board_at, global_board_at
from rankings.engine import get_engine
from rankings.engine.base import percentile
from rankings.engine.redis import _keys as redis_keys
from rankings.models import StaleBoard, Standing
from rankings.services import ScoreInput, StandingsWrites, standings_record_scores

from . import reference
from .reference import PERIODS, GameSpec, Model, Ranked, Window, window_of

# Far in the future on purpose: the Redis index expires a period board at the end of the period after
# it (EXPIREAT in the past drops the key at once), so boards of past periods would vanish from Redis.
# The run crosses a week that is also a month end, a week spanning two months and two ISO years
# (2093-W01 runs from Mon 2092-12-29 to Sun 2093-01-04), and the last microsecond of a day.
INSTANTS = [
    datetime(2092, 11, 23, 23, 59, 59, 999999, tzinfo=UTC),  # Sunday: the last moment of 2092-W47
    datetime(2092, 11, 24, 0, 0, tzinfo=UTC),  # Monday: 2092-W48 starts
    datetime(2092, 11, 24, 15, 0, tzinfo=UTC),
    datetime(2092, 11, 30, 23, 59, 59, 999999, tzinfo=UTC),  # Sunday: the last moment of November and of W48
    datetime(2092, 12, 1, 0, 0, tzinfo=UTC),  # Monday: December and 2092-W49 start together
    datetime(2092, 12, 31, 12, 0, tzinfo=UTC),  # December, but ISO week 2093-W01
    # 2093-01-01 02:30 UTC, written in UTC-5 where it is still 31 December: periods are UTC.
    datetime(2092, 12, 31, 21, 30, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2093, 1, 4, 23, 0, tzinfo=UTC),  # Sunday: the end of 2093-W01, in January
    datetime(2093, 1, 31, 8, 0, tzinfo=UTC),
]

SENTINEL = "podium:test:properties"  # gone if something else flushed the Redis DB under an example

HUGE_VALUES = [
    2**62,
    2**62 - 1,
    2**62 + 1,
    -(2**62),
    -(2**62) - 1,
    2**53 + 1,  # not exact as a double: Redis must not keep values as sorted-set scores
    INT64_MAX,
    INT64_MIN,
]


@dataclass(frozen=True)
class GameConfig:
    sort_order: str
    score_operator: str
    counts_toward_global: bool


@dataclass(frozen=True)
class Submission:
    player: int
    game: int
    value: int
    instant: int


@dataclass(frozen=True)
class World:
    games: tuple[GameConfig, ...]
    players: int
    submissions: tuple[Submission, ...]
    seed: int  # drives the choice of pages, around-windows and friend lists to query


# Mostly a few small values, so that players tie often; sometimes one near the ends of int64.
small_values = st.one_of(st.integers(min_value=0, max_value=3), st.integers(min_value=-3, max_value=5))
values = st.one_of(small_values, small_values, small_values, st.sampled_from(HUGE_VALUES))
game_configs = st.builds(
    GameConfig,
    sort_order=st.sampled_from(["desc", "asc"]),
    score_operator=st.sampled_from(["best", "latest", "sum"]),
    counts_toward_global=st.booleans(),
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    games = draw(st.lists(game_configs, min_size=1, max_size=3))
    players = draw(st.integers(min_value=2, max_value=8))
    # A few of the instants per world, so that scores often share a moment (and tie on reached_at).
    instants = draw(st.lists(st.integers(0, len(INSTANTS) - 1), min_size=1, max_size=4, unique=True))
    # Left to itself, st.lists rarely draws long lists: draw the length first.
    count = draw(st.integers(min_value=1, max_value=40))
    submissions = draw(
        st.lists(
            st.builds(
                Submission,
                player=st.integers(0, players - 1),
                game=st.integers(0, len(games) - 1),
                value=values,
                instant=st.sampled_from(sorted(instants)),
            ),
            min_size=count,
            max_size=count,
        )
    )
    # Scores arrive in time order (the service stamps them with the time of submission).
    ordered = tuple(sorted(submissions, key=lambda submission: submission.instant))
    return World(tuple(games), players, ordered, draw(st.integers(min_value=0, max_value=2**32)))


@pytest.fixture
def write_scores(engine, settings, django_capture_on_commit_callbacks):
    """Start from empty standings and index, then write each submission in its own transaction.

    pytest-django keeps the test inside one transaction, so the after-commit
    index writes are captured and run as a commit would run them. A Redis
    engine under test is made the configured one, so the writes go to it.
    """
    if engine.name == "redis":
        settings.RANKING_ENGINE = "rankings.engine.redis.RedisEngine"
        settings.RANKING_REDIS_URL = engine.url
        settings.RANKING_REDIS_CLUSTER = engine.cluster
        settings.RANKING_REDIS_WAIT_REPLICAS = engine.wait_replicas
        index.health.forget()
        assert index.index_is_separate() and get_engine().client.ping()

    def write(world: World, *, together: bool = False) -> tuple[list[object], list[uuid.UUID], Model]:
        """``together``: each run of submissions to one game at one instant is one call, as a batch makes it."""
        Standing.objects.all().delete()
        StaleBoard.objects.all().delete()
        if engine.name == "redis":
            engine.client.flushdb()
            engine.client.set(SENTINEL, "1")
        games = [
            GameFactory(
                sort_order=config.sort_order,
                score_operator=config.score_operator,
                counts_toward_global=config.counts_toward_global,
            )
            for config in world.games
        ]
        user_ids = [UserFactory().pk for _ in range(world.players)]
        model = Model(
            {
                number: GameSpec(config.sort_order == "desc", config.score_operator, config.counts_toward_global)
                for number, config in enumerate(world.games)
            }
        )
        runs = [[submission] for submission in world.submissions]
        if together:
            runs = [
                list(run)
                for _, run in groupby(world.submissions, key=lambda submission: (submission.game, submission.instant))
            ]
        for run in runs:
            at = INSTANTS[run[0].instant]
            scores = [ScoreInput(user_ids[submission.player], submission.value, at) for submission in run]
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic(), StandingsWrites() as writes:
                effects = standings_record_scores(game=games[run[0].game], scores=scores, writes=writes)
            if len(run) > 1 and len({score.user_id for score in scores}) < len(scores):
                observe("one call holds several scores of a player")
            all_time = window_of("all", at)
            for submission, score, effect in zip(run, scores, effects, strict=True):
                before = model.game_board(submission.game, all_time).get(score.user_id)
                if not model.submit(game_id=submission.game, user_id=score.user_id, value=score.value, at=at):
                    observe("a score is skipped: a total would overflow")
                    assert effect is None, submission
                    continue
                moved = model.game_board(submission.game, all_time).get(score.user_id) != before
                assert effect is not None and effect.moved == moved, submission
        assert not StaleBoard.objects.exists(), "an index write failed"
        return games, user_ids, model

    return write


def boards_touched(world: World, games: list[object], model: Model) -> list[tuple[Board, dict, bool]]:
    """Every board a submission counted on, as (the app's board, the model's rows, descending)."""
    found: dict[str, tuple[Board, dict, bool]] = {}
    for submission in world.submissions:
        at = INSTANTS[submission.instant]
        config = world.games[submission.game]
        for period in PERIODS:
            window = window_of(period, at)
            game_board = game_board_at(games[submission.game], period, at)
            global_board = global_board_at(period, at)
            assert_same_window(game_board, window)
            assert_same_window(global_board, window)
            found[game_board.key] = (game_board, model.game_board(submission.game, window), config.sort_order == "desc")
            found[global_board.key] = (global_board, model.global_board(window), True)
    return list(found.values())


def assert_same_window(board: Board, window: Window) -> None:
    assert (board.window.period, board.window.start, board.window.end) == (window.period, window.start, window.end)


def as_tuples(entries: list) -> list[tuple]:
    return [(entry.rank, entry.user_id, entry.value, entry.reached_at) for entry in entries]


def assert_board_matches(engine, board: Board, expected: list[Ranked], user_ids: list[uuid.UUID], rng) -> None:
    size = len(expected)
    expected_rows = as_tuples(expected)
    position = {row.user_id: number for number, row in enumerate(expected)}
    stranger = uuid.UUID(int=rng.getrandbits(128))

    assert engine.size(board) == size, board.key
    assert as_tuples(engine.top(board, offset=0, limit=200)) == expected_rows, board.key

    offset, limit = rng.randint(0, size + 1), rng.randint(1, 4)
    assert as_tuples(engine.top(board, offset=offset, limit=limit)) == expected_rows[offset : offset + limit], (
        board.key,
        offset,
        limit,
    )

    for user_id in user_ids:
        found = engine.entry(board, user_id)
        if user_id not in position:
            assert found is None, (board.key, user_id)
            continue
        row = expected[position[user_id]]
        assert (found.rank, found.user_id, found.value, found.reached_at) == expected_rows[position[user_id]], board.key
        assert percentile(found.rank, engine.size(board)) == reference.percentile(row.rank, size), board.key
    assert engine.entry(board, stranger) is None

    for user_id in rng.sample(user_ids, k=min(2, len(user_ids))):
        before, after = rng.randint(0, 3), rng.randint(0, 3)
        page = as_tuples(engine.around(board, user_id, before=before, after=after))
        if user_id not in position:
            assert page == [], (board.key, user_id)
        else:
            at = position[user_id]
            assert page == expected_rows[max(0, at - before) : at + after + 1], (board.key, user_id, before, after)

    friends = rng.sample(user_ids, k=rng.randint(1, len(user_ids))) + [stranger]
    rng.shuffle(friends)
    expected_friends = [row for row in expected_rows if row[1] in friends]
    assert as_tuples(engine.entries(board, friends)) == expected_friends, (board.key, friends)


@contextmanager
def telling_a_foreign_flush(engine) -> Iterator[None]:
    """Say so when a failure comes from another test run wiping the shared Redis DB, not from the code."""
    try:
        yield
    except AssertionError as failure:
        if engine.name == "redis" and not engine.client.exists(SENTINEL):
            # Any test run on the same Redis DB empties it (the contract fixture and cache.clear() both FLUSHDB).
            raise AssertionError(
                "the Redis DB was flushed by another client during the example: run this test alone on its REDIS_URL"
            ) from failure
        raise


def assert_world_matches(engine, world: World, games: list[object], user_ids: list[uuid.UUID], model: Model) -> None:
    with telling_a_foreign_flush(engine):
        compare_world(engine, world, games, user_ids, model)


def compare_world(engine, world: World, games: list[object], user_ids: list[uuid.UUID], model: Model) -> None:
    rng = random.Random(world.seed)
    touched = boards_touched(world, games, model)
    # Nothing lands on a board the model does not know of, in the table or in the index.
    known = {board.key for board, _, _ in touched}
    assert set(Standing.objects.values_list("board", flat=True).distinct()) <= known
    if engine.name == "redis":
        indexed = {key.decode() for key in engine.client.scan_iter(match="podium:rank:*:z")}
        assert indexed <= {redis_keys(board)[0] for board, _, _ in touched}
    for board, rows, descending in touched:
        assert board.descending == descending, board.key
        expected = reference.listing(rows, descending=descending)
        for above, below in zip(expected, expected[1:], strict=False):
            if above.value == below.value:
                observe(
                    "equal values" + (" reached at the same moment" if above.reached_at == below.reached_at else "")
                )
        assert_board_matches(engine, board, expected, user_ids, rng)


def observe(what: str) -> None:
    """Count a case in Hypothesis's statistics (``--hypothesis-show-statistics``), to see that it is reached."""
    if currently_in_test_context():
        event(what)


@settings(
    max_examples=60,
    deadline=None,
    database=None,  # failures worth keeping are written down as @example below
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
@example(  # sums that reach INT64_MAX exactly, then one that would pass it and is skipped everywhere
    world=World(
        games=(GameConfig("desc", "sum", True), GameConfig("asc", "best", True)),
        players=2,
        submissions=(
            Submission(0, 0, 2**62, 0),
            Submission(0, 0, 2**62 - 1, 1),
            Submission(1, 1, 2**62, 1),
            Submission(0, 0, 1, 2),
            Submission(1, 1, -1, 3),
            Submission(0, 1, 0, 5),
        ),
        seed=0,
    )
)
def test_every_board_matches_the_reference_model(engine, write_scores, world):
    with telling_a_foreign_flush(engine):
        written = write_scores(world)
    assert_world_matches(engine, world, *written)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
@example(  # a sum's running total passes INT64_MAX inside one call, then comes back: only that score is skipped
    world=World(
        games=(GameConfig("desc", "sum", True),),
        players=2,
        submissions=(
            Submission(0, 0, 2**62, 0),
            Submission(0, 0, 2**62, 0),
            Submission(1, 0, 1, 0),
            Submission(0, 0, -1, 0),
            Submission(0, 0, 3, 0),
        ),
        seed=0,
    )
)
@example(  # latest: a run of equal values after a change, and a player whose call changes nothing
    world=World(
        games=(GameConfig("asc", "latest", True), GameConfig("desc", "best", True)),
        players=2,
        submissions=(
            Submission(0, 0, 2, 0),
            Submission(1, 1, 5, 0),
            Submission(0, 0, 3, 1),
            Submission(0, 0, 2, 1),
            Submission(0, 0, 2, 1),
            Submission(1, 1, 5, 1),
            Submission(1, 1, 4, 1),
        ),
        seed=0,
    )
)
def test_scores_written_together_match_the_reference_model(engine, write_scores, world, settings):
    """Several scores in one call, a player's among them in order (a batch, a group of submissions): the same
    boards as one score a call, and each score's effect on the player's all-time value as the model's. On
    PostgreSQL one statement merges them, however few (``merge``)."""
    settings.STANDINGS_MERGE_MIN_SCORES = 1
    with telling_a_foreign_flush(engine):
        written = write_scores(world, together=True)
    assert_world_matches(engine, world, *written)


# Plain examples of the cases the model is easiest to get wrong.


def record(write_scores, games: tuple[GameConfig, ...], players: int, *scores: tuple[int, int, int, int]):
    """Write the scores (player, game, value, instant) and return the world, its games, user ids and model."""
    world = World(games, players, tuple(Submission(*score) for score in scores), seed=0)
    return world, *write_scores(world)


def test_a_latest_score_equal_to_the_current_value_keeps_the_earlier_reached_at(engine, write_scores):
    latest = GameConfig("desc", "latest", True)
    world, games, user_ids, model = record(
        write_scores, (latest,), 2, (0, 0, 7, 1), (1, 0, 7, 2), (0, 0, 7, 3), (1, 0, 3, 4), (1, 0, 7, 5)
    )
    first, second = user_ids

    board = game_board_at(games[0], "all", INSTANTS[5])
    top = as_tuples(engine.top(board, offset=0, limit=10))

    assert top == [(1, first, 7, INSTANTS[1]), (1, second, 7, INSTANTS[5])]
    assert_world_matches(engine, world, games, user_ids, model)


def test_a_sum_score_of_zero_changes_nothing_but_a_first_zero_puts_the_player_on_the_board(engine, write_scores):
    total = GameConfig("desc", "sum", True)
    world, games, user_ids, model = record(write_scores, (total,), 2, (0, 0, 0, 1), (1, 0, 4, 2), (0, 0, 0, 2))
    first, second = user_ids

    daily = game_board_at(games[0], "daily", INSTANTS[1])
    global_all = global_board_at("all", INSTANTS[1])

    assert as_tuples(engine.top(daily, offset=0, limit=10)) == [(1, second, 4, INSTANTS[2]), (2, first, 0, INSTANTS[1])]
    assert engine.entry(global_all, first).reached_at == INSTANTS[1]
    assert_world_matches(engine, world, games, user_ids, model)


def test_best_on_an_ascending_game_keeps_the_lowest_and_global_adds_it(engine, write_scores):
    laps = GameConfig("asc", "best", True)
    world, games, user_ids, model = record(
        write_scores, (laps,), 2, (0, 0, 50, 1), (1, 0, 40, 2), (0, 0, 60, 3), (0, 0, 30, 4)
    )
    first, second = user_ids

    board = game_board_at(games[0], "all", INSTANTS[4])

    assert as_tuples(engine.top(board, offset=0, limit=10)) == [
        (1, first, 30, INSTANTS[4]),
        (2, second, 40, INSTANTS[2]),
    ]
    assert [(e.user_id, e.value) for e in engine.top(global_board_at("all", INSTANTS[4]), limit=10)] == [
        (second, 40),
        (first, 30),
    ]
    assert_world_matches(engine, world, games, user_ids, model)


def test_a_week_spanning_two_months_and_two_years_collects_both_sides(engine, write_scores):
    total = GameConfig("desc", "sum", False)
    world, games, user_ids, model = record(write_scores, (total,), 2, (0, 0, 5, 5), (0, 0, 3, 6), (0, 0, 1, 7))
    player = user_ids[0]
    december, new_years_day = INSTANTS[5], INSTANTS[6]

    def value(period: str, at: datetime) -> int | None:
        found = engine.entry(game_board_at(games[0], period, at), player)
        return found.value if found else None

    assert game_board_at(games[0], "weekly", december).key.endswith("weekly.2093-W01")
    assert value("weekly", december) == 9
    assert value("monthly", december) == 5
    assert value("monthly", new_years_day) == 4
    assert value("daily", december) == 5
    assert value("daily", new_years_day) == 3  # 21:30 on 31 December in UTC-5 is 1 January in UTC
    assert engine.size(global_board_at("weekly", december)) == 0
    assert_world_matches(engine, world, games, user_ids, model)
