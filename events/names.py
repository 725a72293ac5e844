"""The channels clients subscribe to, and the channel-layer groups behind them.

Public: ``leaderboard`` (global), ``leaderboard.{game_id}``, ``score``, ``game``,
``tournament``, ``tournament.{id}``, ``stress``. Private: ``user.{id}``, only
for that user, and ``moderation`` (the review queue), only for staff. The bus
also uses one internal channel, ``boards``, on which every committed standings
change is announced to the servers (never to clients).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

PUBLIC = frozenset({"leaderboard", "score", "game", "tournament", "stress"})
MODERATION = "moderation"  # staff only: scores flagged for review, and how they were resolved
BOARDS = "boards"  # internal: standings changes, for the servers' own use
BOARDS_RESYNC = "boards.resync"  # on BOARDS: boards changed wholesale; every server re-syncs its clients
_PER_ID = re.compile(r"^(leaderboard|tournament|user)\.([0-9a-fA-F-]{32,36}|[0-9]{1,18})$")


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str  # "leaderboard", "score", "game", "tournament", "stress", "user", "moderation"
    id: str | None = None

    @property
    def is_board(self) -> bool:
        """A channel showing a board: a leaderboard, or one tournament's standings."""
        return self.kind == "leaderboard" or (self.kind == "tournament" and self.id is not None)

    @property
    def user_id(self) -> uuid.UUID | None:
        return uuid.UUID(self.id) if self.kind == "user" and self.id else None


def parse_channel(name: object) -> Channel | None:
    """The channel a client names, or None if there is no such channel."""
    if not isinstance(name, str) or len(name) > 64:
        return None
    if name in PUBLIC or name == MODERATION:
        return Channel(name, name)
    match = _PER_ID.match(name)
    if match is None:
        return None
    kind, ident = match.groups()
    if kind in ("leaderboard", "user"):
        try:
            ident = str(uuid.UUID(ident))
        except ValueError:
            return None
    elif not ident.isdigit():
        return None
    return Channel(f"{kind}.{ident}", kind, ident)


def group_name(channel: str) -> str:
    """The channel-layer group of a channel (letters, digits, ``-``, ``_`` and ``.`` only)."""
    return f"podium.{channel}"


def board_channel(game_id: uuid.UUID | None) -> str:
    """The channel of a game's all-time board, or of the global board for None."""
    return "leaderboard" if game_id is None else f"leaderboard.{game_id}"


def board_key_channel(key: str) -> str | None:
    """The channel that shows a board, by its key: all-time boards only (``leaderboard``,
    ``leaderboard.{game_id}``, ``tournament.{id}``); None for period boards."""
    parts = key.split(".")
    if parts[-1] != "all":
        return None
    if parts[0] == "global" and len(parts) == 2:
        return "leaderboard"
    if parts[0] == "game" and len(parts) == 3:
        return f"leaderboard.{parts[1]}"
    if parts[0] == "tournament" and len(parts) == 3:
        return f"tournament.{parts[1]}"
    return None
