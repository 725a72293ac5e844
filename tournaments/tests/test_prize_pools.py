"""Prize pools are funded: a player pays their pool from their own balance, staff pools come from the house.

No credits come from nothing: whatever a player-funded tournament does (pays, is cancelled, has fewer winners
than places), the ledger's sum does not move, and no balance goes below zero.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.services import CreditsInsufficient
from accounts.tests.factories import UserFactory
from scores.services import score_submit
from tournaments import services
from tournaments.models import Status, Tournament
from tournaments.tests.factories import fund

pytestmark = pytest.mark.django_db

TOURNAMENTS = "/api/v1/tournaments"


def balance(user) -> int:
    return CreditEntry.objects.filter(user=user).aggregate(total=Sum("amount"))["total"] or 0


def ledger_sum() -> int:
    return CreditEntry.objects.aggregate(total=Sum("amount"))["total"] or 0


def body(game, prize_pool, **extra):
    start = timezone.now() + timedelta(hours=1)
    return {
        "name": "Cup",
        "game_id": str(game.pk),
        "prize_pool": prize_pool,
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=2)).isoformat(),
        **extra,
    }


def test_a_player_cannot_create_a_prize_pool_out_of_nothing(client_for, game):
    player = UserFactory()

    response = client_for(player).post(TOURNAMENTS, body(game, 10**12), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert "prize_pool" in response.json()["error"]["fields"]
    assert not Tournament.objects.exists() and balance(player) == 0


def test_a_players_pool_comes_out_of_their_balance(client_for, game):
    player = UserFactory()
    fund(player, 1_000)

    response = client_for(player).post(TOURNAMENTS, body(game, 600), format="json")

    assert response.status_code == 201
    assert balance(player) == 400
    (spent,) = CreditEntry.objects.filter(user=player, kind=CreditEntry.Kind.PRIZE_POOL)
    assert spent.amount == -600 and spent.reference == f"tournament:{response.json()['id']}:pool"
    assert client_for(player).post(TOURNAMENTS, body(game, 401), format="json").status_code == 409


def test_a_cancelled_players_pool_goes_back_to_them_once(client_for, game):
    player = UserFactory()
    fund(player, 1_000)
    created = client_for(player).post(TOURNAMENTS, body(game, 700), format="json").json()

    cancelled = client_for(player).post(f"{TOURNAMENTS}/{created['id']}/cancel")

    assert cancelled.status_code == 200
    assert balance(player) == 1_000
    assert ledger_sum() == 1_000
    with pytest.raises(services.IllegalTransition):
        services.tournament_cancel(tournament=Tournament.objects.get(pk=created["id"]), actor=player)
    assert balance(player) == 1_000


def test_winning_ones_own_pool_mints_nothing(game):
    player = UserFactory()
    fund(player, 1_000)
    now = timezone.now()
    cup = services.tournament_create(
        organizer=player,
        game=game,
        name="Solo",
        prize_pool=1_000,
        start_time=now + timedelta(seconds=1),
        end_time=now + timedelta(hours=1),
    )
    services.tournament_join(tournament=cup, user=player)
    cup = services.tournament_start(tournament=cup, now_=True)
    score_submit(user=player, game=game, value=10_000_000)
    services.tournament_finish(tournament=cup, now_=True)
    services.tournament_pay(tournament=cup)

    # 50% for first place and 50% that no one took, given back: the balance and the ledger are as funded.
    assert Tournament.objects.get(pk=cup.pk).status == Status.PAID
    assert balance(player) == 1_000
    assert ledger_sum() == 1_000
    kinds = dict(CreditEntry.objects.filter(user=player).values_list("kind", "amount"))
    assert kinds == {"adjustment": 1_000, "prize_pool": -1_000, "prize": 500, "refund": 500}


def test_a_staff_pool_is_funded_by_the_house(client_for, game, staff):
    response = client_for(staff).post(TOURNAMENTS, body(game, 50_000), format="json")

    assert response.status_code == 201
    assert balance(staff) == 0 and not CreditEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_pools_at_once_cannot_spend_one_balance_twice(game):
    player = UserFactory()
    fund(player, 1_000)
    start = timezone.now() + timedelta(hours=1)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def create(name: str) -> None:
        barrier.wait()
        try:
            services.tournament_create(
                organizer=player,
                game=game,
                name=name,
                prize_pool=600,
                start_time=start,
                end_time=start + timedelta(hours=1),
            )
            outcomes.append("created")
        except CreditsInsufficient:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(f"Cup {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["created", "refused"]
    assert balance(player) == 400 and Tournament.objects.count() == 1
