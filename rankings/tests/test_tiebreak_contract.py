"""Tie-break scores on every ranking backend: boards of (score, tie-break) pairs, held as one board value each
(``games.tiebreak``), list and rank exactly as the pairs order, across the whole 64-bit range."""

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from games.models import INT64_MAX, INT64_MIN
from games.tiebreak import TieBreak, tiebreak_check, tiebreak_of

from .conftest import make_board


@dataclass
class Rules:
    sort_order: str
    tiebreak_order: str
    min_score: int | None
    max_score: int | None
    tiebreak_max: int | None


ORDERS = list(itertools.product(["desc", "asc"], ["asc", "desc"]))


def _better_first(rules: Rules, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The reference order: the score by the board's direction, then the tie-break by its own."""
    value_sign = -1 if rules.sort_order == "desc" else 1
    tiebreak_sign = -1 if rules.tiebreak_order == "desc" else 1
    return sorted(pairs, key=lambda pair: (value_sign * pair[0], tiebreak_sign * pair[1]))


@pytest.mark.parametrize(("sort_order", "tiebreak_order"), ORDERS)
def test_equal_scores_are_ranked_by_the_tie_break_before_the_earliest(engine, load, sort_order, tiebreak_order):
    rules = Rules(sort_order, tiebreak_order, 0, 1_000, 60_000)
    codec = tiebreak_of(rules)
    board = make_board(descending=sort_order == "desc")
    pairs = [(500, 30_000), (500, 12_000), (900, 59_000), (500, 30_000), (10, 0), (500, 60_000), (500, 0)]
    users = load(board, [codec.encode(*pair) for pair in pairs])  # reached one second apart, in this order

    top = engine.top(board, offset=0, limit=20)

    expected = _better_first(rules, pairs)
    assert [codec.decode(entry.value) for entry in top] == expected
    # Equal pairs alone share a rank, and list by who reached them first.
    ranks = [entry.rank for entry in top]
    for position, pair in enumerate(expected):
        assert ranks[position] == expected.index(pair) + 1
    tied = [entry.user_id for entry in top if codec.decode(entry.value) == (500, 30_000)]
    assert tied == [users[0], users[3]]


@pytest.mark.parametrize(("sort_order", "tiebreak_order"), ORDERS)
def test_a_player_s_rank_and_neighbours_follow_the_tie_break(engine, load, sort_order, tiebreak_order):
    rules = Rules(sort_order, tiebreak_order, -50, 50, 9)
    codec = tiebreak_of(rules)
    board = make_board(descending=sort_order == "desc")
    pairs = [(value, tiebreak) for value in (-50, 0, 50) for tiebreak in (0, 4, 9)]
    users = load(board, [codec.encode(*pair) for pair in pairs])
    by_pair = dict(zip(pairs, users, strict=True))
    expected = _better_first(rules, pairs)

    for place, pair in enumerate(expected):
        entry = engine.entry(board, by_pair[pair])
        assert (entry.rank, codec.decode(entry.value)) == (place + 1, pair)
        around = engine.around(board, by_pair[pair], before=1, after=1)
        assert [codec.decode(e.value) for e in around] == expected[max(place - 1, 0) : place + 2]
    assert engine.size(board) == len(pairs)


@pytest.mark.parametrize(("sort_order", "tiebreak_order"), ORDERS)
def test_the_widest_rules_stay_exact_at_both_ends_of_64_bits(engine, load, sort_order, tiebreak_order):
    # Board values are from 0 to 2^63 - 1: scores over a quarter of the signed range, tie-breaks of 0 and 1.
    low, high = INT64_MIN // 4, INT64_MAX // 4
    rules = Rules(sort_order, tiebreak_order, low, high, 1)
    assert tiebreak_check(rules, operator="best", counts_toward_global=False) == {}
    codec = tiebreak_of(rules)
    board = make_board(descending=sort_order == "desc")
    pairs = [(low, 0), (low, 1), (high, 0), (high, 1), (high - 1, 1), (low + 1, 0)]
    values = [codec.encode(*pair) for pair in pairs]
    assert min(values) == 0 and max(values) == INT64_MAX
    load(board, values)

    top = engine.top(board, offset=0, limit=10)

    assert [codec.decode(entry.value) for entry in top] == _better_first(rules, pairs)
    assert [entry.rank for entry in top] == [1, 2, 3, 4, 5, 6]


def test_rules_whose_values_would_pass_64_bits_are_refused():
    rules = Rules("desc", "asc", INT64_MIN, INT64_MAX, 0)
    assert "tiebreak_max" in tiebreak_check(rules, operator="best", counts_toward_global=False)
    rules = Rules("desc", "asc", 0, 2**32 - 1, 2**31 - 1)
    assert tiebreak_check(rules, operator="best", counts_toward_global=False) == {}
    rules = Rules("desc", "asc", 0, 2**32 - 1, 2**31)
    assert "tiebreak_max" in tiebreak_check(rules, operator="best", counts_toward_global=False)


def test_a_tie_break_needs_bounds_a_single_score_operator_and_no_global_board():
    errors = tiebreak_check(Rules("desc", "asc", None, None, None), operator="sum", counts_toward_global=True)
    assert set(errors) == {"min_score", "tiebreak_max", "score_operator", "counts_toward_global"}
    assert tiebreak_check(Rules("desc", "", None, None, None), operator="sum", counts_toward_global=True) == {}


_bounds = st.tuples(
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX), st.integers(min_value=0, max_value=2**40)
).flatmap(
    lambda pair: st.tuples(
        st.just(pair[0]),
        st.integers(min_value=pair[0], max_value=min(INT64_MAX, pair[0] + (INT64_MAX + 1) // (pair[1] + 1) - 1)),
        st.just(pair[1]),
    )
)


@given(bounds=_bounds, order=st.sampled_from(ORDERS), data=st.data())
def test_board_values_order_as_the_pairs_do_and_decode_back(bounds, order, data):
    low, high, tiebreak_max = bounds
    rules = Rules(order[0], order[1], low, high, tiebreak_max)
    assert tiebreak_check(rules, operator="latest", counts_toward_global=False) == {}
    codec = tiebreak_of(rules)
    assert isinstance(codec, TieBreak)
    pair = st.tuples(st.integers(low, high), st.integers(0, tiebreak_max))
    pairs = data.draw(st.lists(pair, min_size=2, max_size=8))
    pairs += [(low, 0), (high, tiebreak_max)]
    encoded = {pair: codec.encode(*pair) for pair in pairs}
    assert all(0 <= value <= INT64_MAX for value in encoded.values())
    assert all(codec.decode(value) == pair for pair, value in encoded.items())
    descending = order[0] == "desc"
    by_value = sorted(set(pairs), key=lambda pair: -encoded[pair] if descending else encoded[pair])
    assert by_value == _better_first(rules, sorted(set(pairs)))
