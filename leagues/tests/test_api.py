"""The league API, the pages, the admin, and the events a player hears."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from leagues.models import Cohort, League, Membership, Placement, Tier
from leagues.services import cohort_settle
from realtime.tests.conftest import connect, events, run, subscribe
from scores.services import score_submit
from tournaments.models import Tournament

pytestmark = pytest.mark.django_db(transaction=True)

LEAGUES = "/api/v1/leagues"


@pytest.fixture
def league(make_league):
    return make_league(cohort_size=3, promote=1, relegate=1)


def test_anyone_reads_the_leagues_with_their_tiers_and_current_period(api_client, league):
    listed = api_client.get(LEAGUES)
    detail = api_client.get(f"{LEAGUES}/{league.slug}")

    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert [t["name"] for t in listed.json()["results"][0]["tiers"]] == ["Bronze", "Silver", "Gold"]
    body = detail.json()
    assert (body["slug"], body["period"], body["cohort_size"], body["game_name"]) == (
        "arena-league",
        "weekly",
        3,
        "Arena",
    )
    assert body["current_period"]["key"].startswith(str(timezone.now().isocalendar().year))
    assert api_client.get(f"{LEAGUES}/{league.pk}").json()["id"] == league.pk
    assert api_client.get(f"{LEAGUES}/nope").status_code == 404


def test_staff_create_a_league_and_nobody_else(client_for, api_client, staff, game):
    body = {
        "name": "Sprint League",
        "slug": "sprint",
        "game_id": game.slug,
        "period": "daily",
        "cohort_size": 20,
        "promote": 3,
        "relegate": 3,
        "tiers": [{"name": "Rookie"}, {"name": "Pro", "reward_pool": 90, "reward_split": [60, 40]}],
    }

    assert api_client.post(LEAGUES, body, format="json").status_code == 401
    assert client_for(UserFactory()).post(LEAGUES, body, format="json").status_code == 403
    created = client_for(staff).post(LEAGUES, body, format="json")

    assert created.status_code == 201, created.content
    assert [(t["level"], t["name"], t["reward_pool"], t["reward_split"]) for t in created.json()["tiers"]] == [
        (1, "Rookie", 0, [50, 30, 20]),
        (2, "Pro", 90, [60, 40]),
    ]
    again = client_for(staff).post(LEAGUES, body, format="json")
    assert again.status_code == 400 and "slug" in again.json()["error"]["fields"]
    bad = client_for(staff).post(LEAGUES, {**body, "slug": "x", "promote": 15, "relegate": 10}, format="json")
    assert bad.status_code == 400 and "promote" in bad.json()["error"]["fields"]
    unknown = client_for(staff).post(LEAGUES, {**body, "slug": "y", "game_id": "nope"}, format="json")
    assert unknown.status_code == 400 and "game_id" in unknown.json()["error"]["fields"]
    assert League.objects.count() == 1


def test_a_player_reads_their_tier_cohort_and_its_board_around_them(client_for, api_client, league, game):
    players = UserFactory.create_batch(3)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value * 10)
    cohort = Cohort.objects.get()

    me = client_for(players[0]).get(f"{LEAGUES}/{league.slug}/me")
    cohorts = api_client.get(f"{LEAGUES}/{league.slug}/cohorts")
    around = client_for(players[0]).get(f"/api/v1/tournaments/{cohort.tournament_id}/standings?around=me&limit=1")

    assert me.status_code == 200
    body = me.json()
    assert body["tier"]["name"] == "Bronze" and body["history"] == []
    assert body["current"]["cohort"]["tournament_id"] == cohort.tournament_id
    assert cohorts.json()["results"][0]["size"] == 3 and cohorts.json()["results"][0]["status"] == "running"
    assert [(e["username"], e["rank"]) for e in around.json()["entries"]] == [(players[0].username, 3)]
    assert api_client.get(f"{LEAGUES}/{league.slug}/me").status_code == 401
    nobody = client_for(UserFactory()).get(f"{LEAGUES}/{league.slug}/me").json()
    assert nobody == {"tier": None, "current": None, "history": []}
    assert api_client.get(f"{LEAGUES}/{league.slug}/cohorts?period=bad").status_code == 400
    assert api_client.get(f"{LEAGUES}/{league.slug}/cohorts?tier=0").status_code == 400


def test_a_past_periods_cohorts_stay_readable_frozen(api_client, client_for, league, game):
    players = UserFactory.create_batch(3)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value * 10)
    cohort = Cohort.objects.get()
    end = timezone.now() - timedelta(seconds=1)
    Tournament.objects.filter(pk=cohort.tournament_id).update(start_time=end - timedelta(days=7), end_time=end)
    Cohort.objects.filter(pk=cohort.pk).update(period_key="2026-W01", period_end=end)
    Placement.objects.update(period_key="2026-W01")
    cohort_settle(cohort=cohort)

    past = api_client.get(f"{LEAGUES}/{league.slug}/cohorts?period=2026-W01").json()["results"]
    board = api_client.get(f"/api/v1/tournaments/{cohort.tournament_id}/standings?around={players[1].pk}&limit=3")
    history = client_for(players[2]).get(f"{LEAGUES}/{league.slug}/me").json()["history"]

    assert [(c["tier"], c["status"], c["settled_at"] is not None) for c in past] == [("Bronze", "paid", True)]
    assert board.json()["frozen"] is True
    assert [e["rank"] for e in board.json()["entries"]] == [1, 2, 3]
    assert (history[0]["outcome"], history[0]["position"], history[0]["next_tier"]) == ("promoted", 1, "Silver")


def test_nobody_joins_a_cohort_by_asking(client_for, league, game):
    score_submit(user=UserFactory(), game=game, value=10)
    cohort = Cohort.objects.get()

    response = client_for(UserFactory()).post(f"/api/v1/tournaments/{cohort.tournament_id}/join")

    assert response.status_code == 409 and response.json()["error"]["code"] == "placed_only"


def test_cohorts_stay_off_the_tournament_list_and_feed(api_client, league, game):
    score_submit(user=UserFactory(), game=game, value=10)

    assert api_client.get("/api/v1/tournaments").json()["count"] == 0


def test_a_player_hears_where_they_were_placed_and_how_the_period_ended(league, game):
    players = UserFactory.create_batch(3)
    token = user_tokens(user=players[2])["access"]

    def play_and_end():
        for value, player in enumerate(players, start=1):
            score_submit(user=player, game=game, value=value * 10)
        cohort = Cohort.objects.get()
        end = timezone.now() - timedelta(seconds=1)
        Tournament.objects.filter(pk=cohort.tournament_id).update(start_time=end - timedelta(days=7), end_time=end)
        Cohort.objects.filter(pk=cohort.pk).update(period_end=end)
        cohort_settle(cohort=cohort)

    async def scenario():
        client = await connect(token)
        await subscribe(client, f"user.{players[2].pk}")
        await database_sync_to_async(play_and_end)()
        heard = []
        while "league.promoted" not in [e["type"] for e in heard]:
            heard.extend(await events(client, 1))
        await client.disconnect()
        return heard

    heard = {e["type"]: e["data"] for e in run(scenario)}

    assert heard["league.placed"]["tier"] == "Bronze" and heard["league.placed"]["league"] == "Arena League"
    promoted = heard["league.promoted"]
    assert (promoted["position"], promoted["next_tier"], promoted["next_tier_level"]) == (1, "Silver", 2)


def test_the_league_page_shows_the_tiers_and_the_players_cohort(client, league, game):
    players = UserFactory.create_batch(2)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value * 10)
    client.force_login(players[0])

    page = client.get(f"/leagues/{league.slug}/")
    listing = client.get("/leagues/")

    assert page.status_code == 200 and listing.status_code == 200
    html = page.content.decode()
    assert "You play in <strong>Bronze</strong>, group 1 (2/3 players)" in html
    assert f'data-tournament-id="{Cohort.objects.get().tournament_id}"' in html
    assert players[1].username in html
    assert "Arena League" in listing.content.decode()
    assert client.get("/leagues/nope/").status_code == 404


def test_the_admin_creates_a_league_with_its_tiers(client, game):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.post(
        "/admin/leagues/league/add/",
        {
            "name": "Admin League",
            "slug": "admin-league",
            "game": game.pk,
            "period": "weekly",
            "cohort_size": 30,
            "promote": 5,
            "relegate": 5,
            "is_active": "on",
            "tier_lines": "Bronze\nSilver\nGold, 100",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    league = League.objects.get(slug="admin-league")
    assert [(t.name, t.reward_pool) for t in Tier.objects.filter(league=league)] == [
        ("Bronze", 0),
        ("Silver", 0),
        ("Gold", 100),
    ]
    assert league.organizer == staff
    assert client.get(f"/admin/leagues/league/{league.pk}/change/").status_code == 200


def test_staff_move_a_player_to_another_tier_of_their_league_only(client, league, make_league, game):
    score_submit(user=UserFactory(), game=game, value=10)
    membership = Membership.objects.get()
    other = Tier.objects.create(league=make_league(slug="other", name="Other"), level=9, name="Elsewhere")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/leagues/membership/{membership.pk}/change/"

    refused = client.post(url, {"tier": other.pk})
    moved = client.post(url, {"tier": Tier.objects.get(league=league, name="Gold").pk})

    assert refused.status_code == 200 and "Pick a tier of this player" in refused.content.decode()
    assert moved.status_code == 302
    membership.refresh_from_db()
    assert membership.tier.name == "Gold"


def test_the_tournament_feed_carries_nothing_of_a_cohort(league, game, house):
    import asyncio

    from tournaments.services import tournament_create

    players = UserFactory.create_batch(2)

    def listed_cup():
        now = timezone.now()
        return tournament_create(
            organizer=house,
            game=game,
            name="Open Cup",
            start_time=now + timedelta(hours=1),
            end_time=now + timedelta(hours=2),
        )

    async def scenario():
        client = await connect()
        await subscribe(client, "tournament")
        for value, player in enumerate(players, start=1):
            await database_sync_to_async(score_submit)(user=player, game=game, value=value)
        await asyncio.sleep(0.5)  # past the board interval: a cohort's standings would have gone out by now
        cup = await database_sync_to_async(listed_cup)()
        heard = []
        while not any(e["type"] == "tournament.created" for e in heard):
            heard.extend(await events(client, 1))
        await client.disconnect()
        return cup, heard

    cup, heard = run(scenario)

    assert [(e["type"], e["data"]["tournament_id"]) for e in heard] == [("tournament.created", cup.pk)]
