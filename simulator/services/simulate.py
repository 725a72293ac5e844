"""The simulation engine: simulated players submitting scores, joining tournaments and setting records.

Players are synthetic accounts named ``sim_0001``, ``sim_0002``, ... with
unusable passwords, created on first use and reused by later runs; they play
the synthetic games (``synthetic``), so a simulation never touches the real
boards. Every score goes through ``scores.services.score_submit`` (source
``simulator``), exactly as a score from the API, so boards, tournaments and
events all move.

Pacing follows a schedule on the monotonic clock (the n-th score is due at
``start + n / rate``), so a slow submission does not slow the rate down. The
per-player-per-game limit (``SCORE_RATE_PER_USER_GAME``) is respected by
cycling through every (player, game) pair in a shuffled order: each pair
scores once per cycle, and a run is refused when the pairs cannot carry the
rate within ``RATE_LIMIT_SHARE`` of the limit.

Both ``manage.py simulate`` and the background runs of the API
(``simulator.services.simulations``) drive ``Simulator``.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from common import ratelimit
from common.errors import DomainError
from games.models import Game, ScoreOperator, SortOrder
from scores.models import Source
from scores.services import ScoreRateLimited, score_submit
from tournaments.models import LIVE, Tournament
from tournaments.services import AlreadyJoined, RegistrationClosed, TournamentFull, tournament_join

from .synthetic import synthetic_games, synthetic_games_count, synthetic_players

logger = logging.getLogger(__name__)

PLAYER_PREFIX = "sim_"
MIN_PLAYERS, MAX_PLAYERS = 1, 10_000
MIN_RATE, MAX_RATE = 0.1, 500.0
MIN_DURATION, MAX_DURATION = 1, 3_600
# Use at most this share of what the per-player-per-game limit allows, so a run started in the same
# limit window as the previous one, or a pair scoring twice across a cycle boundary, stays under it.
RATE_LIMIT_SHARE = 0.8
# When the schedule is this far behind (a slow database), missed scores are dropped instead of sent in a burst.
MAX_BEHIND_SECONDS = 1.0
PROGRESS_SECONDS = 1.0
TOURNAMENT_REFRESH_SECONDS = 5.0
JOIN_CHANCE = 0.05  # per score: the player first joins an open tournament of the game
BREAKTHROUGH_CHANCE = 0.02  # per score: a performance well above the player's level
LEARNING_ATTEMPTS = 25.0  # attempts after which a player has made about 63% of their progress
LEARNING_GAIN = 0.6  # share of the gap to perfect play a player closes with practice


class SimulationInvalid(DomainError):
    code = "invalid"
    message = "The simulation's parameters are invalid."


class RateTooHigh(SimulationInvalid):
    code = "rate_too_high"


class NoGames(DomainError):
    code = "no_games"
    message = "There is no active synthetic game to simulate."


def player_name(number: int) -> str:
    return f"{PLAYER_PREFIX}{number:04d}"


def max_rate(*, players: int, games: int) -> float:
    """Scores per second that ``players`` x ``games`` pairs sustain under the per-player-per-game limit."""
    allowed, period = ratelimit.parse_rate(settings.SCORE_RATE_PER_USER_GAME)
    return players * games * allowed / period * RATE_LIMIT_SHARE


def simulation_games_count() -> int:
    """How many games a run would play: the active synthetic ones, or the default set it would create."""
    return synthetic_games_count()


def simulation_validate(*, players: int, rate: float, duration: float | None, games: int) -> None:
    """Bounds, and whether the pairs can carry the rate. ``duration`` None means until stopped."""
    fields: dict[str, list[str]] = {}
    if not MIN_PLAYERS <= players <= MAX_PLAYERS:
        fields["players"] = [f"Must be from {MIN_PLAYERS} to {MAX_PLAYERS:,}."]
    if not (math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE):
        fields["rate"] = [f"Must be from {MIN_RATE} to {MAX_RATE:g} scores per second."]
    if duration is not None and not (math.isfinite(duration) and MIN_DURATION <= duration <= MAX_DURATION):
        fields["duration"] = [f"Must be from {MIN_DURATION} to {MAX_DURATION:,} seconds."]
    if fields:
        raise SimulationInvalid(fields=fields)
    limit = max_rate(players=players, games=games)
    if rate > limit:
        per_player = max_rate(players=1, games=games)
        needed = math.ceil(rate / per_player)
        message = (
            f"{players} players x {games} games sustain at most {limit:g} scores per second under the limit of "
            f"{settings.SCORE_RATE_PER_USER_GAME} per player and game; use at least {needed} players or a lower rate."
        )
        raise RateTooHigh(message, fields={"rate": [message]})


def simulated_players(*, count: int) -> list[User]:
    """The first ``count`` simulated players (synthetic: they play synthetic games only), created when missing."""
    return synthetic_players(prefix=PLAYER_PREFIX, count=count, display="Sim")


def simulated_games() -> list[Game]:
    """The games a simulation plays: the active synthetic ones (the default set is created when none is)."""
    return synthetic_games()


@dataclass
class Counters:
    scores_submitted: int = 0
    tournaments_joined: int = 0
    records: int = 0  # personal bests beaten (a pair's first score in the run is not counted)
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class SimPlayer:
    user: User
    talent: float  # 0..1, from the username, so a player keeps it across runs
    attempts: int = 0
    tournaments: set[int] = field(default_factory=set)

    def level(self) -> float:
        """Expected performance, 0..1: talent plus what practice has added so far."""
        practice = 1 - math.exp(-self.attempts / LEARNING_ATTEMPTS)
        return self.talent + (1 - self.talent) * LEARNING_GAIN * practice


def score_range(game: Game) -> tuple[int, int]:
    """(worst-to-best span) of plausible scores: points, a lap time in ms, or points per round for sum games."""
    if game.score_operator == ScoreOperator.SUM:
        low, span = 1, 100
    elif game.sort_order == SortOrder.ASC:
        low, span = 30_000, 150_000
    else:
        low, span = 0, 100_000
    high = low + span
    if game.min_score is not None and game.max_score is not None:
        low, high = game.min_score, game.max_score
    elif game.min_score is not None:
        low, high = game.min_score, game.min_score + span
    elif game.max_score is not None:
        low, high = game.max_score - span, game.max_score
    if game.score_operator == ScoreOperator.SUM:
        high = min(high, low + span)
    return low, high


def score_value(game: Game, performance: float) -> int:
    """A score for a performance from 0 (worst) to 1 (best), inside the game's bounds."""
    low, high = score_range(game)
    performance = min(max(performance, 0.0), 1.0)
    if game.sort_order == SortOrder.ASC:
        return round(high - performance * (high - low))
    return round(low + performance * (high - low))


def score_tiebreak(game: Game, performance: float) -> int | None:
    """The tie-break score of the same performance, on a game that has one (the better run, the better both)."""
    if not game.tiebreak_order or game.tiebreak_max is None:
        return None
    performance = min(max(performance, 0.0), 1.0)
    share = 1.0 - performance if game.tiebreak_order == "asc" else performance
    return round(share * game.tiebreak_max)


class Simulator:
    """One run: call ``run`` once; ``counters`` hold the totals so far, also after an exception."""

    def __init__(
        self,
        *,
        players: Sequence[User],
        games: Sequence[Game],
        rate: float,
        duration: float | None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not players or not games:
            raise NoGames() if not games else SimulationInvalid(fields={"players": ["At least one player."]})
        self.rng = rng or random.Random()
        self.players = [SimPlayer(user, random.Random(user.username).betavariate(2, 4)) for user in players]
        self.games = list(games)
        self.rate = rate
        self.duration = duration
        self.clock = clock
        self.counters = Counters()
        self.started = 0.0
        self._cycle: list[tuple[SimPlayer, Game]] = []
        self._benched: dict[tuple[int, int], float] = {}  # (player index, game index) -> monotonic time
        self._played: set[tuple[str, str]] = set()
        self._open: dict[object, list[Tournament]] = {}
        self._open_checked = float("-inf")

    def elapsed(self) -> float:
        return self.clock() - self.started if self.started else 0.0

    def run(self, *, stop: threading.Event, on_progress: Callable[[Counters], bool | None] | None = None) -> Counters:
        """Play until the duration is over, ``stop`` is set, or ``on_progress`` (called about once a second)
        returns False."""
        self.started = self.clock()
        end = self.started + self.duration if self.duration else math.inf
        interval = 1.0 / self.rate
        base, due = self.started, 0  # the n-th score since ``base`` is due at base + n * interval
        next_progress = self.started + PROGRESS_SECONDS
        while not stop.is_set():
            now = self.clock()
            if now >= end:
                break
            if now >= next_progress:
                if on_progress is not None and on_progress(self.counters) is False:
                    break
                next_progress += PROGRESS_SECONDS
                if next_progress <= now:
                    next_progress = now + PROGRESS_SECONDS
                continue
            next_score = base + due * interval
            if now >= next_score:
                if now - next_score > MAX_BEHIND_SECONDS:
                    base, due = now, 0
                self._play_one(now)
                due += 1
                continue
            stop.wait(min(next_score, next_progress, end) - now)
        return self.counters

    def _next_pair(self, now: float) -> tuple[SimPlayer, Game] | None:
        """The next pair of the shuffled cycle that is not benched by a 429."""
        for _ in range(len(self.players) * len(self.games) + 1):
            if not self._cycle:
                self._cycle = [(player, game) for player in self.players for game in self.games]
                self.rng.shuffle(self._cycle)
            player, game = self._cycle.pop()
            if self._benched.get((id(player), id(game)), 0.0) <= now:
                return player, game
        return None

    def _play_one(self, now: float) -> None:
        pair = self._next_pair(now)
        if pair is None:
            return
        player, game = pair
        if self.rng.random() < JOIN_CHANCE:
            self._maybe_join(player, game, now)
        self._submit(player, game, now)

    def _performance(self, player: SimPlayer) -> float:
        level = player.level()
        if self.rng.random() < BREAKTHROUGH_CHANCE:
            return level + abs(self.rng.gauss(0.0, 0.15))
        return self.rng.gauss(level, 0.08)

    def _submit(self, player: SimPlayer, game: Game, now: float) -> None:
        performance = self._performance(player)
        value, tiebreak = score_value(game, performance), score_tiebreak(game, performance)
        try:
            result = score_submit(user=player.user, game=game, value=value, tiebreak=tiebreak, source=Source.SIMULATOR)
        except ScoreRateLimited as exc:
            # Only when an earlier run filled this limit window: rest the pair until the window ends.
            self._benched[(id(player), id(game))] = now + float(exc.headers.get("Retry-After", 60))
            self.counters.errors += 1
            return
        except (DomainError, DatabaseError) as exc:
            logger.warning("simulated score refused for %s on %s: %s", player.user.username, game.slug, exc)
            self.counters.errors += 1
            return
        player.attempts += 1
        self.counters.scores_submitted += 1
        key = (player.user.username, game.slug)
        if result.score.is_personal_best and key in self._played:
            self.counters.records += 1
        self._played.add(key)

    def _open_tournaments(self, game: Game, now: float) -> list[Tournament]:
        if now - self._open_checked >= TOURNAMENT_REFRESH_SECONDS:
            self._open_checked = now
            self._open = defaultdict(list)
            for tournament in Tournament.objects.filter(
                game__in=self.games,
                status__in=LIVE,
                end_time__gt=timezone.now(),
                participant_count__lt=F("max_participants"),
            ).order_by("start_time"):
                self._open[tournament.game_id].append(tournament)
        return self._open.get(game.pk, [])

    def _maybe_join(self, player: SimPlayer, game: Game, now: float) -> None:
        choices = [t for t in self._open_tournaments(game, now) if t.pk not in player.tournaments]
        if not choices:
            return
        tournament = self.rng.choice(choices)
        player.tournaments.add(tournament.pk)
        try:
            tournament_join(tournament=tournament, user=player.user)
        except AlreadyJoined:
            return
        except (TournamentFull, RegistrationClosed):
            self._open[game.pk].remove(tournament)
            return
        except (DomainError, DatabaseError) as exc:
            logger.warning("simulated join refused for %s in %s: %s", player.user.username, tournament.pk, exc)
            self.counters.errors += 1
            return
        self.counters.tournaments_joined += 1
