"""Demo data: games of every kind, players from many countries, weeks of score history, tournaments in every state.

Everything is written through the services a live deployment uses: games by
``game_create``, the score history by ``score_import`` (the live ranking and
tournament code, each score on the boards of its own moment), tournaments
finished and paid by ``tournament_finish`` and ``tournament_pay``, upcoming
ones joined by ``tournament_join``. Only what no service may do, backdating,
is written directly: players registered in the past, and tournaments that
started in the past with their players seated before the start.

Runs are reproducible: names, skills and scores come from one seeded
``random.Random`` (times are relative to now). Demo rows are recognised by
markers, so a second run changes nothing and ``--reset`` removes exactly them:
games whose ``rules`` carry ``"demo": "populate_demo"``, and players whose
username starts with ``demo_``, whose email is at ``DEMO_EMAIL_DOMAIN`` and who
have no usable password (nobody can register like that).
"""

from __future__ import annotations

import random
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from events.bus import publish_resync
from games.models import Game
from games.services import game_create
from leagues.services import LeagueInvalid, TierSpec, league_create
from scores.models import Source
from scores.services import ImportItem, score_import
from tournaments.models import Format, Participant, Status, Tournament
from tournaments.services import (
    tournament_create,
    tournament_finish,
    tournament_join,
    tournament_pay,
    tournament_validate_rules,
)

from ..selectors import (
    DEMO_EMAIL_DOMAIN,
    DEMO_MARK,
    DEMO_USERNAME_PREFIX,
    DemoSummary,
    demo_games,
    demo_players,
    demo_summary,
)
from .cleanup import Progress, data_delete, data_lock

ORGANIZER_USERNAME = "demo_podium"

DEFAULT_PLAYERS = 2_000
DEFAULT_SCORES_PER_PLAYER = 20
DEFAULT_DAYS = 30
DEFAULT_SEED = 2026
# Scores per import transaction: a larger chunk writes a player's all-time, monthly and weekly rows once
# where a smaller one would write them again in every chunk.
IMPORT_CHUNK = 20_000
SUSPICIOUS = 3  # of the scores, sent as a client would just now, for the review queue to find (``_suspicious``)


# --- the catalogue ---------------------------------------------------------------------


def _points(rng: random.Random, skill: float) -> int:
    return int(round((5_000 + 95_000 * skill) * rng.lognormvariate(0, 0.35), -1))


def _lap_ms(rng: random.Random, skill: float) -> int:
    return round((96_000 - 34_000 * skill) * (1 + abs(rng.gauss(0, 0.05))))


def _coins(rng: random.Random, skill: float) -> int:
    return round((20 + 180 * skill) * rng.uniform(0.4, 1.2))


def _rating(rng: random.Random, skill: float) -> int:
    return max(100, round(900 + 1_700 * skill + rng.gauss(0, 80)))


def _words(rng: random.Random, skill: float) -> int:
    return min(60, round((12 + 30 * skill) * rng.lognormvariate(0, 0.12)))


def _word_ms(rng: random.Random, skill: float) -> int:
    return min(600_000, round((240_000 - 150_000 * skill) * rng.lognormvariate(0, 0.2)))


def _maze_ms(rng: random.Random, skill: float) -> int:
    return round((150_000 - 100_000 * skill) * rng.lognormvariate(0, 0.15))


@dataclass(frozen=True)
class DemoGame:
    name: str
    description: str
    sort_order: str
    score_operator: str
    min_score: int
    max_score: int
    unit: str
    tournament_format: str
    draw: Callable[[random.Random, float], int] = field(repr=False)
    # A tie-break score (games.tiebreak): (order, tiebreak_max, label), and how a player's runs draw it.
    tiebreak: tuple[str, int, str] | None = None
    tiebreak_draw: Callable[[random.Random, float], int] | None = field(default=None, repr=False)

    def run(self, rng: random.Random, skill: float) -> tuple[int, int | None]:
        """One run of a player of this skill: the score, and the tie-break score of a game that has one."""
        value = self.draw(rng, skill)
        return value, (self.tiebreak_draw(rng, skill) if self.tiebreak_draw else None)


CATALOGUE: tuple[DemoGame, ...] = (
    DemoGame(
        "Galaxy Blaster",
        "Arcade shooter: clear waves of invaders; your best run counts.",
        "desc",
        "best",
        0,
        10_000_000,
        "points",
        Format.BEST_SCORE,
        _points,
    ),
    DemoGame(
        "Lap Rush",
        "Time trial: your best lap time, in milliseconds; lower is better.",
        "asc",
        "best",
        30_000,
        600_000,
        "ms",
        Format.LIMITED_ATTEMPTS,
        _lap_ms,
    ),
    DemoGame(
        "Coin Collector",
        "Platformer: every coin of every run adds to your total.",
        "desc",
        "sum",
        0,
        1_000,
        "coins",
        Format.CUMULATIVE,
        _coins,
    ),
    DemoGame(
        "Word Sprint",
        "Word puzzle against the clock: the words you find in the grid; equal counts go to the fastest.",
        "desc",
        "best",
        0,
        60,
        "words",
        Format.BEST_SCORE,
        _words,
        tiebreak=("asc", 600_000, "time (ms)"),
        tiebreak_draw=_word_ms,
    ),
    DemoGame(
        "Tower Siege",
        "Strategy ladder: your current rating, after your latest match.",
        "desc",
        "latest",
        0,
        4_000,
        "rating",
        Format.BEST_SCORE,
        _rating,
    ),
    DemoGame(
        "Maze Dash",
        "Find the exit: your fastest escape, in milliseconds.",
        "asc",
        "best",
        10_000,
        900_000,
        "ms",
        Format.LIMITED_ATTEMPTS,
        _maze_ms,
    ),
)

# Country: (weight, first names, last names). Names fit their country, so profiles look plausible.
NAMES: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {
    "US": (
        16,
        ("James", "Emma", "Olivia", "Liam", "Noah", "Ava", "Ethan", "Mia", "Lucas", "Harper", "Mason", "Chloe"),
        ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Clark", "Lewis", "Young"),
    ),
    "GB": (
        8,
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Freya", "Jack", "Poppy", "Alfie", "Evie"),
        ("Jones", "Evans", "Walker", "Wright", "Hughes", "Green", "Hall", "Wood", "Thompson", "Roberts"),
    ),
    "FR": (
        7,
        ("Léa", "Hugo", "Chloé", "Louis", "Manon", "Jules", "Camille", "Arthur", "Inès", "Raphaël"),
        ("Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "Girard", "Roux", "Fournier", "Mercier"),
    ),
    "DE": (
        8,
        ("Lukas", "Mia", "Leon", "Hannah", "Felix", "Lena", "Jonas", "Sophie", "Paul", "Emilia"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner", "Hoffmann", "Koch", "Richter"),
    ),
    "ES": (
        6,
        ("Lucía", "Hugo", "Martina", "Pablo", "Sofía", "Álvaro", "Paula", "Diego", "Carmen", "Javier"),
        ("García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres", "Ruiz", "Díaz"),
    ),
    "IT": (
        5,
        ("Giulia", "Francesco", "Sofia", "Alessandro", "Aurora", "Lorenzo", "Chiara", "Matteo", "Giorgia", "Marco"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"),
    ),
    "BR": (
        8,
        ("Miguel", "Alice", "Arthur", "Helena", "Davi", "Laura", "Gabriel", "Valentina", "Heitor", "Beatriz"),
        ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Almeida", "Carvalho", "Ribeiro"),
    ),
    "MX": (
        5,
        ("Santiago", "Ximena", "Mateo", "Regina", "Emiliano", "Camila", "Leonardo", "Renata", "Diego", "Valeria"),
        ("Hernández", "González", "Rodríguez", "Pérez", "Ramírez", "Flores", "Morales", "Vázquez", "Cruz", "Reyes"),
    ),
    "CA": (
        4,
        ("Liam", "Charlotte", "Benjamin", "Chloé", "William", "Emma", "Nathan", "Olivia", "Félix", "Zoé"),
        ("Tremblay", "Roy", "Gagnon", "MacDonald", "Wong", "Campbell", "Bouchard", "Morin", "Côté", "Gauthier"),
    ),
    "JP": (
        7,
        ("Haruto", "Yui", "Sota", "Hina", "Yuto", "Aoi", "Riku", "Sakura", "Ren", "Mei"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"),
    ),
    "KR": (
        6,
        ("Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Do-yun", "Ji-woo", "Ye-jun", "Su-ah", "Eun-woo", "Ji-an"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim"),
    ),
    "CN": (
        6,
        ("Wei", "Fang", "Hao", "Jing", "Lei", "Min", "Yang", "Xin", "Jie", "Ying"),
        ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou"),
    ),
    "IN": (
        6,
        ("Aarav", "Ananya", "Vivaan", "Diya", "Arjun", "Saanvi", "Reyansh", "Isha", "Kabir", "Meera"),
        ("Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Mehta", "Joshi"),
    ),
    "SE": (
        3,
        ("Elsa", "William", "Alma", "Hugo", "Astrid", "Oscar", "Ebba", "Nils", "Saga", "Axel"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Berg"),
    ),
    "PL": (
        4,
        ("Zuzanna", "Jakub", "Julia", "Antoni", "Maja", "Szymon", "Lena", "Filip", "Hanna", "Kacper"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński", "Szymański"),
    ),
    "NG": (
        3,
        ("Chinedu", "Amara", "Emeka", "Ngozi", "Tunde", "Folake", "Ifeanyi", "Zainab", "Seun", "Adaeze"),
        ("Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Abubakar", "Ogunleye", "Bello"),
    ),
    "AU": (
        4,
        ("Jack", "Matilda", "Oliver", "Isla", "Noah", "Ruby", "William", "Grace", "Lachlan", "Zara"),
        ("Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "White", "Martin", "Kelly"),
    ),
}


# --- what exists -----------------------------------------------------------------------


@dataclass(frozen=True)
class PopulateResult:
    created: bool
    summary: DemoSummary
    seconds: float = 0.0


# --- populate ----------------------------------------------------------------------------


@dataclass
class _Player:
    user_id: uuid.UUID
    skill: float
    activity: float
    games: list[int]


@dataclass
class _PlannedTournament:
    tournament: Tournament
    game_index: int
    seats: list[tuple[_Player, datetime]]


def demo_populate(
    *,
    players: int = DEFAULT_PLAYERS,
    games: int = 3,
    days: int = DEFAULT_DAYS,
    scores: int | None = None,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    progress: Progress | None = None,
) -> PopulateResult:
    """Create the demo data unless some exists (then report it); ``reset`` deletes the demo data first.

    ``scores`` defaults to 20 per player. Needs at least 2 players, 1 to 6 games and 1 day.

    One transaction does it all, the reset included: other processes see the old demo or the
    whole new one, never a part. So a failure leaves what was there before, and no running
    tournament clock can see a past tournament before it is finished and paid here. Two
    populates at once take turns (a lock on PostgreSQL; SQLite has one writer at a time),
    and the second finds the first one's data. Every open page is told to re-read its
    boards once it commits.
    """
    if not 2 <= players <= 1_000_000 or not 1 <= games <= len(CATALOGUE) or not 1 <= days <= 365:
        raise ValueError(f"players: 2 to 1,000,000; games: 1 to {len(CATALOGUE)}; days: 1 to 365")
    scores = DEFAULT_SCORES_PER_PLAYER * players if scores is None else scores
    started = time.monotonic()
    with transaction.atomic():
        data_lock()
        if reset:
            demo_delete(progress=progress)
        else:
            existing = demo_summary()
            if not existing.empty:
                return PopulateResult(created=False, summary=existing)
        _populate(random.Random(seed), players=players, games=games, days=days, scores=scores, progress=progress)
        summary = demo_summary()
        publish_resync()
    return PopulateResult(created=True, summary=summary, seconds=time.monotonic() - started)


def _populate(
    rng: random.Random, *, players: int, games: int, days: int, scores: int, progress: Progress | None
) -> None:
    now = timezone.now()
    history_start = now - timedelta(days=days)
    catalogue = CATALOGUE[:games]
    game_rows = [_create_game(entry) for entry in catalogue]
    organizer, roster = _create_players(rng, players, len(catalogue), history_start, progress)
    planned = _plan_tournaments(rng, catalogue, game_rows, organizer, roster, now, days)
    _create_league(organizer, game_rows[0])  # before the scores: this period's place their players in cohorts
    held_back = min(SUSPICIOUS, scores)
    items = _score_history(rng, catalogue, game_rows, roster, planned, history_start, now, scores - held_back)
    if progress:
        progress("scores", 0, scores)
    score_import(
        items=items,
        source=Source.SIMULATOR,
        chunk_size=IMPORT_CHUNK,
        progress=(partial(progress, "scores", total=scores) if progress else None),
    )
    score_import(items=_suspicious(rng, catalogue, game_rows, roster, now)[:held_back], source=Source.CLIENT)
    if progress:
        progress("scores", scores, scores)
    # Every tournament counts once here: the past ones finished and paid, the running ones, the upcoming ones.
    total = len(planned) + len(catalogue)
    done = 0
    for plan in planned:
        if plan.tournament.end_time <= now:
            tournament_finish(tournament=plan.tournament)
            tournament_pay(tournament=plan.tournament)
        done += 1
        if progress:
            progress("tournaments", done, total)
    for position, (entry, game) in enumerate(zip(catalogue, game_rows, strict=True)):
        _open_registration(rng, position, entry, game, organizer, roster, now)
        done += 1
        if progress:
            progress("tournaments", done, total)


def _create_game(entry: DemoGame) -> Game:
    order, tiebreak_max, label = entry.tiebreak or ("", None, "")
    return game_create(
        name=entry.name,
        description=entry.description,
        sort_order=entry.sort_order,
        score_operator=entry.score_operator,
        min_score=entry.min_score,
        max_score=entry.max_score,
        tiebreak_order=order,
        tiebreak_max=tiebreak_max,
        tiebreak_label=label,
        rules={"demo": DEMO_MARK, "unit": entry.unit},
    )


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c in "-.")


def _create_players(
    rng: random.Random, count: int, game_count: int, history_start: datetime, progress: Progress | None
) -> tuple[User, list[_Player]]:
    unusable = make_password(None)  # one unusable hash for all: demo players cannot sign in
    organizer = User(
        id=uuid.UUID(int=rng.getrandbits(128), version=4),
        username=ORGANIZER_USERNAME,
        email=f"{ORGANIZER_USERNAME}@{DEMO_EMAIL_DOMAIN}",
        display_name="Podium Events",
        password=unusable,
        # Staff: the house funds the demo's prize pools (a player's pools come from their own balance).
        is_staff=True,
        created_at=history_start - timedelta(days=90),
    )
    countries = list(NAMES)
    weights = [NAMES[code][0] for code in countries]
    taken: dict[str, int] = {}
    users: list[User] = []
    roster: list[_Player] = []
    for _ in range(count):
        country = rng.choices(countries, weights)[0]
        _, firsts, lasts = NAMES[country]
        first, last = rng.choice(firsts), rng.choice(lasts)
        base = f"{DEMO_USERNAME_PREFIX}{_ascii(first)}.{_ascii(last)}"[:26]
        taken[base] = taken.get(base, 0) + 1
        username = base if taken[base] == 1 else f"{base}{taken[base]}"
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        users.append(
            User(
                id=user_id,
                username=username,
                email=f"{username}@{DEMO_EMAIL_DOMAIN}",
                display_name=f"{first} {last}",
                country=country,
                password=unusable,
                created_at=history_start - timedelta(days=rng.uniform(1, 120)),
            )
        )
        # Most play two or three games; a few dedicate themselves to one.
        plays = sorted(rng.sample(range(game_count), k=rng.randint(1, game_count)))
        roster.append(_Player(user_id, rng.betavariate(2, 3), min(rng.paretovariate(1.3), 40.0), plays))
    if progress:
        progress("players", 0, len(users))
    User.objects.bulk_create([organizer], batch_size=1)
    for start in range(0, len(users), 2_000):
        User.objects.bulk_create(users[start : start + 2_000])
        if progress:
            progress("players", min(start + 2_000, len(users)), len(users))
    return organizer, roster


def _plan_tournaments(
    rng: random.Random,
    catalogue: Sequence[DemoGame],
    game_rows: Sequence[Game],
    organizer: User,
    roster: Sequence[_Player],
    now: datetime,
    days: int,
) -> list[_PlannedTournament]:
    """Per game, one tournament over past days (finished and paid after the import) and one running now.

    They are written directly, as running, with players seated before the start:
    the services refuse to create a tournament in the past, which is the point here.
    Their standings then come from the imported scores, through the live path.
    """
    history = timedelta(days=days)
    length = min(history / 3, timedelta(days=7))
    planned: list[_PlannedTournament] = []
    for position, (entry, game) in enumerate(zip(catalogue, game_rows, strict=True)):
        players_of_game = [player for player in roster if position in player.games]
        past_start = now - history + position * history / (3 * len(catalogue))
        running_start = now - min(timedelta(days=1), history / 3)
        windows = [
            (f"{entry.name} Open", past_start, past_start + length, 5_000 * (len(catalogue) - position)),
            (f"{entry.name} Weekend Cup", running_start, now + timedelta(days=2, hours=position), 10_000),
        ]
        for name, start, end, pool in windows:
            seats = rng.sample(players_of_game, k=min(len(players_of_game), max(3, min(150, len(roster) // 6))))
            rules = {
                "format": entry.tournament_format,
                "max_attempts": 5 if entry.tournament_format == Format.LIMITED_ATTEMPTS else None,
                "max_participants": max(100, len(seats)),
                "prize_pool": pool,
                "prize_split": [50, 30, 20],
            }
            rules["prize_split"] = tournament_validate_rules(**rules)
            tournament = Tournament.objects.create(
                organizer=organizer,
                game=game,
                name=name,
                description=f"{entry.description} Demo tournament.",
                start_time=start,
                end_time=end,
                status=Status.RUNNING,
                started_at=start,
                participant_count=len(seats),
                created_at=start - timedelta(days=2),
                **rules,
            )
            seated = [(player, start - timedelta(hours=rng.uniform(1, 40))) for player in seats]
            Participant.objects.bulk_create(
                [Participant(tournament=tournament, user_id=p.user_id, joined_at=at) for p, at in seated]
            )
            planned.append(_PlannedTournament(tournament, position, seated))
    return planned


def _score_history(
    rng: random.Random,
    catalogue: Sequence[DemoGame],
    game_rows: Sequence[Game],
    roster: Sequence[_Player],
    planned: Sequence[_PlannedTournament],
    history_start: datetime,
    now: datetime,
    total: int,
) -> list[ImportItem]:
    """``total`` scores: a share played inside the tournaments by their players, the rest over the whole history.

    Busy players play much more than most (a heavy-tailed activity), and recent
    days are busier than old ones, so the daily, weekly and monthly boards differ.
    """
    items: list[ImportItem] = []
    budget = total // 5
    for plan in planned:
        end = min(plan.tournament.end_time, now)
        game = game_rows[plan.game_index]
        for player, _ in plan.seats:
            for _ in range(rng.randint(1, 4)):
                if len(items) >= budget:
                    break
                at = plan.tournament.start_time + (end - plan.tournament.start_time) * rng.random()
                value, tiebreak = catalogue[plan.game_index].run(rng, player.skill)
                items.append(ImportItem(player.user_id, game.pk, value, at, tiebreak))
    span = now - history_start
    chosen = rng.choices(roster, weights=[player.activity for player in roster], k=max(0, total - len(items)))
    for player in chosen:
        which = rng.choice(player.games)
        # More recent days are busier: the distance back in time is skewed toward zero.
        at = now - span * (rng.random() ** 1.4)
        value, tiebreak = catalogue[which].run(rng, player.skill)
        items.append(ImportItem(player.user_id, game_rows[which].pk, value, at, tiebreak))
    return items


def _create_league(organizer: User, game: Game) -> None:
    """A weekly league on the first game, four tiers from Bronze up (unless its slug is taken)."""
    try:
        league_create(
            organizer=organizer,
            game=game,
            name=f"{game.name} League",
            slug=f"{game.slug}-league",
            tiers=[TierSpec("Bronze"), TierSpec("Silver", 100), TierSpec("Gold", 250), TierSpec("Diamond", 500)],
        )
    except LeagueInvalid:
        pass  # someone made a league of that name: the demo goes without


def _suspicious(
    rng: random.Random,
    catalogue: Sequence[DemoGame],
    game_rows: Sequence[Game],
    roster: Sequence[_Player],
    now: datetime,
) -> list[ImportItem]:
    """A few scores for the review queue to find, sent as a game client would, just now: one far beyond the first
    game's usual scores, and two of one player a moment apart."""
    entry, game = catalogue[0], game_rows[0]
    cheater, hasty = rng.sample(list(roster), 2)
    wild = entry.max_score // 4 if entry.sort_order == "desc" else entry.min_score
    return [
        ImportItem(cheater.user_id, game.pk, wild, now - timedelta(seconds=30)),
        ImportItem(hasty.user_id, game.pk, entry.draw(rng, hasty.skill), now - timedelta(seconds=20)),
        ImportItem(hasty.user_id, game.pk, entry.draw(rng, hasty.skill), now - timedelta(seconds=19.5)),
    ]


def _open_registration(
    rng: random.Random,
    position: int,
    entry: DemoGame,
    game: Game,
    organizer: User,
    roster: Sequence[_Player],
    now: datetime,
) -> Tournament:
    """One upcoming tournament of a game, created and joined through the services like any other."""
    start = (now + timedelta(days=1, hours=6 * position)).replace(minute=0, second=0, microsecond=0)
    tournament = tournament_create(
        organizer=organizer,
        game=game,
        name=f"{entry.name} Championship",
        description=f"{entry.description} Registration is open.",
        format=entry.tournament_format,
        max_attempts=10 if entry.tournament_format == Format.LIMITED_ATTEMPTS else None,
        max_participants=100,
        prize_pool=25_000,
        start_time=start,
        end_time=start + timedelta(hours=3),
    )
    players_of_game = [player.user_id for player in roster if position in player.games]
    joining = rng.sample(players_of_game, k=min(len(players_of_game), 20))
    for user in User.objects.filter(pk__in=joining).order_by("username"):
        tournament_join(tournament=tournament, user=user)
    return tournament


# --- reset -------------------------------------------------------------------------------


def demo_delete(*, progress: Progress | None = None) -> DemoSummary:
    """Delete the demo data and everything that hangs on it (see ``cleanup.data_delete``); returns what was deleted.

    Other players who played a demo game keep their other scores; their global boards
    are recomputed without it. Open pages are told to re-read their boards.
    """
    with transaction.atomic():
        data_lock()
        deleted = demo_summary()
        if not deleted.empty:
            data_delete(games=list(demo_games()), players=demo_players(), progress=progress)
    return deleted
