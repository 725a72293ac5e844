"""Boards split by value over several sorted sets: a board larger than one Redis node should hold.

A board of the Redis index is a sorted set and a hash on one cluster slot, so
on one node. With ``RANKING_REDIS_RANGE_SIZE`` set, a board whose sorted set
grows past twice that many players is cut again by the heal task, from the
standings table, into ranges of about that many players each, by value:

* range ``i`` holds the members whose 8-byte order prefix (the value) lies in
  ``[bounds[i-1], bounds[i])``. Equal values share their prefix, so a tie never
  spans two ranges, and the ranges, one after the other, list the board;
* each range is a board of its own (a sorted set and a versioned hash, written
  by the same script as an unsplit board) on a slot of its own;
* a directory, split over slots by user id, maps each player to the version
  and the range of their standing, so that a change knows which range it
  leaves.

The exact competition rank of a player is 1 + the players of every earlier
range (``ZCARD``) + the players strictly better inside their range
(``ZLEXCOUNT``); a listing that reaches a border reads on into the next range.
The layout (its generation, the directory's partitions, the bounds) is one key
on the board's own slot; the scripts that serve an unsplit board look for it
in the same call, so boards that were never split pay nothing for this.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from dataclasses import dataclass

from rankings.boards import Board


def board_keys(key: str) -> tuple[str, str, str, str]:
    """The sorted set, hash, version and layout keys of a board (or of one range of it), on one slot: the
    {hash tag} is the board's key."""
    return (
        f"podium:rank:{{{key}}}:z",
        f"podium:rank:{{{key}}}:h",
        f"podium:rank:{{{key}}}:v",
        f"podium:rank:{{{key}}}:layout",
    )


@dataclass(frozen=True)
class Layout:
    """How a split board is cut: ``bounds[i - 1]`` is the order prefix range ``i`` starts at."""

    generation: int
    partitions: int  # the directory's hashes
    bounds: tuple[bytes, ...]

    @classmethod
    def parse(cls, raw: bytes) -> Layout:
        generation, partitions, *bounds = raw.split()
        return cls(int(generation), int(partitions), tuple(bytes.fromhex(bound.decode()) for bound in bounds))

    def dump(self) -> str:
        return " ".join([str(self.generation), str(self.partitions), *(bound.hex() for bound in self.bounds)])

    @property
    def ranges(self) -> int:
        return len(self.bounds) + 1

    def range_of(self, member: bytes) -> int:
        return bisect_right(self.bounds, member[:8])

    def range_board(self, board: Board, index: int) -> Board:
        """Range ``index`` as a board of its own: its keys are those of an unsplit board."""
        return Board(f"{board.key}|{self.generation}.{index}", board.descending, board.window)

    def directory_key(self, board: Board, user_id: uuid.UUID) -> str:
        return self.directory_keys(board)[user_id.int % self.partitions]

    def directory_keys(self, board: Board) -> list[str]:
        return [f"podium:rank:{{{board.key}|{self.generation}.d{n}}}:d" for n in range(self.partitions)]
