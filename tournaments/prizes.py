"""How a tournament's prize pool is shared out over its final standings. Pure Python: no Django, no database.

* Place k (1-based) is worth ``split[k-1]`` per cent of the pool. Amounts are
  whole credits, cut from cumulative totals: places a..b are worth
  ``floor(pool * cum(b) / 100) - floor(pool * cum(a-1) / 100)``, so rounding
  never loses a credit between places and a full podium receives exactly
  ``floor(pool * sum(split) / 100)``.
* Players tied on a value hold consecutive places (competition rank "1224":
  a group of n tied at rank r holds places r..r+n-1) and share those places'
  worth equally; the ``amount % n`` credits left over all go to the group's
  earliest achiever.
* Places with nobody on them are not paid.

Percentages are handled as integer basis points (hundredths of a per cent),
never as floats, so pools up to 2**62 and beyond are exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

DEFAULT_SPLIT = (50, 30, 20)

_BASIS_POINTS_PER_POOL = 100 * 100  # 100 per cent, in hundredths of a per cent
_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Placed:
    """One player of the final standings, in listing order (best first, ties earliest first)."""

    user_id: uuid.UUID
    value: int
    reached_at: datetime
    rank: int


@dataclass(frozen=True)
class Award:
    user_id: uuid.UUID
    place: int  # the player's competition rank
    amount: int


def validate_split(split: Sequence[Decimal | int | str]) -> list[Decimal]:
    """The split as Decimals, or ValueError naming the first bad percentage. An empty split pays no prizes."""
    return [Decimal(bp) / 100 for bp in _basis_points(split)]


def prize_awards(*, pool: int, split: Sequence[Decimal | int | str], standings: Sequence[Placed]) -> list[Award]:
    """Who wins how much, in listing order; players who win nothing are left out.

    Raises ValueError for a negative pool, a bad split, or standings whose
    ranks are not the competition ranks of their listing order.
    """
    if isinstance(pool, bool) or not isinstance(pool, int):
        raise ValueError(f"pool must be a whole number of credits, got {pool!r}")
    if pool < 0:
        raise ValueError(f"pool must not be negative, got {pool}")
    basis_points = _basis_points(split)
    _check_ranks(standings)
    if pool == 0 or not basis_points:
        return []

    cumulative = [0]
    for bp in basis_points:
        cumulative.append(cumulative[-1] + bp)

    def paid_up_to(place: int) -> int:
        """Credits paid to places 1..place together; places past the split add nothing."""
        return pool * cumulative[min(place, len(basis_points))] // _BASIS_POINTS_PER_POOL

    awards: list[Award] = []
    for group in _tie_groups(standings):
        rank = group[0].rank
        amount = paid_up_to(rank + len(group) - 1) - paid_up_to(rank - 1)
        if amount == 0:
            continue
        share, remainder = divmod(amount, len(group))
        # Listing order already puts the earliest first; choosing explicitly keeps the rule true for any
        # order among equal values, and a stable tie on reached_at goes to the first one listed.
        earliest = min(range(len(group)), key=lambda i: group[i].reached_at)
        for i, player in enumerate(group):
            won = share + (remainder if i == earliest else 0)
            if won > 0:
                awards.append(Award(user_id=player.user_id, place=rank, amount=won))
    return awards


def _basis_points(split: Sequence[Decimal | int | str]) -> list[int]:
    if isinstance(split, str | bytes):
        raise ValueError("split must be a sequence of percentages, not a single string")
    basis_points: list[int] = []
    for place, raw in enumerate(split, start=1):
        percent = _percent(place, raw)
        # Checked before looking at the digits, so a huge exponent cannot make the checks below expensive.
        if percent > 100:
            raise ValueError(f"split: place {place} is {raw!r}, more than 100 per cent")
        _sign, digits, exponent = percent.as_tuple()
        below_hundredths = -2 - exponent
        if below_hundredths > 0 and any(digits[-below_hundredths:]):
            raise ValueError(f"split: place {place} is {raw!r}, which has more than 2 decimal places")
        # Exact: only zeros lie below the hundredths, and 0 < percent <= 100.
        basis_points.append(int(percent.quantize(_HUNDREDTH) * 100))
    total = sum(basis_points)
    if total > _BASIS_POINTS_PER_POOL:
        raise ValueError(f"split adds up to {Decimal(total) / 100} per cent, more than 100")
    return basis_points


def _percent(place: int, raw: object) -> Decimal:
    # bool is an int, and a float such as 33.33 is not the number it looks like: both are refused.
    if isinstance(raw, bool) or not isinstance(raw, Decimal | int | str):
        raise ValueError(f"split: place {place} is {raw!r}; use an int, a Decimal or a numeric string")
    try:
        percent = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"split: place {place} is {raw!r}, which is not a number") from None
    if not percent.is_finite():
        raise ValueError(f"split: place {place} is {raw!r}, which is not a finite number")
    if percent <= 0:
        raise ValueError(f"split: place {place} is {raw!r}; every percentage must be more than 0")
    return percent


def _check_ranks(standings: Sequence[Placed]) -> None:
    # Wrong ranks would silently move money between places, so they are refused rather than trusted.
    for position, player in enumerate(standings):
        previous = standings[position - 1] if position else None
        expected = previous.rank if previous is not None and player.value == previous.value else position + 1
        if player.rank != expected:
            raise ValueError(
                f"standings: entry {position} has rank {player.rank}, expected {expected} "
                "(competition rank of a listing in order, best first)"
            )


def _tie_groups(standings: Sequence[Placed]) -> list[Sequence[Placed]]:
    groups: list[Sequence[Placed]] = []
    start = 0
    for end in range(1, len(standings) + 1):
        if end == len(standings) or standings[end].rank != standings[start].rank:
            groups.append(standings[start:end])
            start = end
    return groups
