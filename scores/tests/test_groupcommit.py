"""Group commit: players' submissions stored together (scores.services.score_submit_group), and the queue that
groups the submissions a process has in hand at once (scores.groupcommit)."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from rankings.models import Standing
from scores import services
from scores.groupcommit import SubmitQueue
from scores.models import Score
from scores.services import PlayerScore, SubmitResult, player_shadow_ban, score_submit, score_submit_group, submit
from scores.sessions import ServerAuthoritative, SessionRequired


def item(user, game, value, key=None, metadata=None):
    return PlayerScore(user.pk, game, value, metadata or {}, key)


# --- the service ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_group_stores_each_score_as_a_submission_of_its_own_would(game):
    alice, bob, carol = UserFactory.create_batch(3)
    score_submit(user=alice, game=game, value=50)

    outcomes = score_submit_group([item(alice, game, 40), item(bob, game, 70), item(carol, game, 70, key="c-1")])

    assert all(isinstance(outcome, SubmitResult) and not outcome.replayed for outcome in outcomes)
    assert [outcome.score.value for outcome in outcomes] == [40, 70, 70]
    assert [outcome.score.is_personal_best for outcome in outcomes] == [False, True, True]
    assert Score.objects.count() == 4
    assert Score.objects.get(user=carol).idempotency_key == "c-1"
    board = {s.user_id: s.value for s in Standing.objects.filter(board=f"game.{game.pk}.all")}
    assert board == {alice.pk: 50, bob.pk: 70, carol.pk: 70}  # a best-score game keeps alice's 50
    assert Standing.objects.filter(board="global.all").count() == 3


@pytest.mark.django_db
def test_each_refused_item_stores_nothing_and_the_others_are_stored(game):
    ok, gone, reused, replayed, off_bounds, authority = UserFactory.create_batch(6)
    gone.is_active = False
    gone.save()
    first = score_submit(user=reused, game=game, value=5, idempotency_key="k")
    again = score_submit(user=replayed, game=game, value=9, idempotency_key="k")
    servers_only = GameFactory(score_authority="server")
    sessions_only = GameFactory(score_authority="session")

    outcomes = score_submit_group(
        [
            item(ok, game, 10),
            item(gone, game, 10),
            item(reused, game, 6, key="k"),  # another score under a used key
            item(replayed, game, 9, key="k"),  # the same score again: replayed
            item(off_bounds, GameFactory(min_score=0), -1),
            item(authority, servers_only, 1),
        ]
    )
    sessionless = score_submit_group([item(ok, sessions_only, 1)])

    assert isinstance(outcomes[0], SubmitResult) and not outcomes[0].replayed
    assert isinstance(outcomes[1], services.PlayerGone)
    assert isinstance(outcomes[2], services.IdempotencyKeyReused)
    assert outcomes[3].replayed and outcomes[3].score.pk == again.score.pk
    assert isinstance(outcomes[4], services.ScoreOutOfBounds)
    assert isinstance(outcomes[5], ServerAuthoritative)
    assert isinstance(sessionless[0], SessionRequired)
    assert Score.objects.count() == 3  # the two stored before, and ok's
    assert Score.objects.filter(user=reused).get().pk == first.score.pk


@pytest.mark.django_db
def test_the_per_player_rate_is_counted_for_each_item(game, settings):
    settings.SCORE_RATE_PER_USER_GAME = "1/min"
    limited, fresh = UserFactory.create_batch(2)
    score_submit(user=limited, game=game, value=1)

    outcomes = score_submit_group([item(limited, game, 2), item(fresh, game, 2)])

    assert isinstance(outcomes[0], services.ScoreRateLimited)
    assert int(outcomes[0].headers["Retry-After"]) >= 1
    assert isinstance(outcomes[1], SubmitResult)
    assert Score.objects.filter(user=limited).count() == 1


@pytest.mark.django_db
def test_a_shadow_banned_players_score_is_hidden_and_announced_to_nobody(game, monkeypatch):
    staff = UserFactory(is_staff=True)
    banned, shown = UserFactory.create_batch(2)
    player_shadow_ban(user=banned, actor=staff, reason="aimbot")
    published = []
    monkeypatch.setattr(submit, "publish_many", lambda events: published.extend(events))

    outcomes = score_submit_group([item(banned, game, 99), item(shown, game, 10)])

    assert [outcome.hidden for outcome in outcomes] == [True, False]
    assert {data["user_id"] for _, type, data in published if type == "score.submitted"} == {str(shown.pk)}
    assert str(banned.pk) not in str(published)  # in no score and on no board that moved
    assert not Standing.objects.filter(user=banned, board=f"game.{game.pk}.all").exists()


@pytest.mark.django_db
def test_a_group_costs_the_same_statements_for_two_players_or_twenty(game):
    def statements(n):
        items = [item(user, game, i) for i, user in enumerate(UserFactory.create_batch(n))]
        with CaptureQueriesContext(connection) as queries:
            outcomes = score_submit_group(items)
        assert all(isinstance(outcome, SubmitResult) for outcome in outcomes)
        return [query["sql"].split()[0] for query in queries.captured_queries]

    statements(1)  # the process's caches (a game's leagues) warm, as a running server's are
    assert statements(2) == statements(20)


@pytest.mark.django_db
def test_a_group_names_each_player_once(game, user):
    with pytest.raises(ValueError):
        score_submit_group([item(user, game, 1), item(user, game, 2)])


# --- the queue ------------------------------------------------------------------------------------------------------


def passed_through(items, outcomes):
    return outcomes


class Gate:
    """A store that holds its first group until released, and records every group it stores."""

    def __init__(self, fail_groups_larger_than=None):
        self.groups = []
        self.release = threading.Event()
        self.fail_above = fail_groups_larger_than

    def __call__(self, items):
        self.groups.append([entry.user_id for entry in items])
        if len(self.groups) == 1:
            assert self.release.wait(10)
        if self.fail_above is not None and len(items) > self.fail_above:
            raise RuntimeError("the group's transaction failed")
        return score_submit_group(items)


def submit_in_threads(queue, items, gate=None, waiting=None):
    """Submit the first item, then the rest while the first one's group is held at the gate; the answers (or
    errors) in item order."""
    answers = [None] * len(items)

    def run(index):
        try:
            answers[index] = queue.submit(items[index])
        except Exception as error:  # the test looks at it
            answers[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(items))]
    threads[0].start()
    while gate is not None and not gate.groups:
        time.sleep(0.005)
    for thread in threads[1:]:
        thread.start()
        expected = threads.index(thread)
        while queue.waiting() < expected:  # in arrival order
            time.sleep(0.005)
    if gate is not None:
        gate.release.set()
    for thread in threads:
        thread.join(20)
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_submissions_that_arrive_while_a_group_is_stored_are_stored_together():
    game = GameFactory()
    players = UserFactory.create_batch(6)
    gate = Gate()
    queue = SubmitQueue(gate, passed_through, size=lambda: 64)

    answers = submit_in_threads(queue, [item(player, game, 10 * i) for i, player in enumerate(players)], gate)

    assert gate.groups == [[players[0].pk], [player.pk for player in players[1:]]]
    assert [answer.score.value for answer in answers] == [0, 10, 20, 30, 40, 50]
    assert Score.objects.count() == 6
    assert queue.waiting() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_players_second_submission_waits_for_the_next_group_and_groups_are_kept_small():
    game = GameFactory()
    first, twice, other, last = UserFactory.create_batch(4)
    gate = Gate()
    queue = SubmitQueue(gate, passed_through, size=lambda: 2)
    items = [
        item(first, game, 1),
        item(twice, game, 5, key="match-1"),
        item(twice, game, 5, key="match-1"),  # the same match sent again
        item(other, game, 7),
        item(last, game, 8),
    ]

    answers = submit_in_threads(queue, items, gate)

    assert gate.groups == [[first.pk], [twice.pk, other.pk], [twice.pk, last.pk]]
    assert [answer.replayed for answer in answers] == [False, False, True, False, False]
    assert answers[2].score.pk == answers[1].score.pk
    assert Score.objects.count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_group_that_fails_is_stored_again_one_submission_at_a_time():
    game = GameFactory()
    players = UserFactory.create_batch(4)
    gate = Gate(fail_groups_larger_than=1)
    queue = SubmitQueue(gate, passed_through, size=lambda: 64)

    answers = submit_in_threads(queue, [item(player, game, 3) for player in players], gate)

    assert [len(group) for group in gate.groups] == [1, 3, 1, 1, 1]
    assert all(isinstance(answer, SubmitResult) for answer in answers)
    assert Score.objects.count() == 4  # each once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_when_the_answers_fail_each_request_of_the_group_fails_and_nothing_is_stored_twice():
    game = GameFactory()
    players = UserFactory.create_batch(3)
    gate = Gate()

    def answer(items, outcomes):
        if len(items) > 1:
            raise RuntimeError("the index could not be read")
        return outcomes

    queue = SubmitQueue(gate, answer, size=lambda: 64)

    answers = submit_in_threads(queue, [item(player, game, 3) for player in players], gate)

    assert isinstance(answers[0], SubmitResult)
    assert [str(answer) for answer in answers[1:]] == ["the index could not be read"] * 2
    assert Score.objects.count() == 3


@pytest.mark.django_db
def test_inside_a_transaction_a_submission_is_stored_in_it(game, user):
    gate = Gate()
    gate.release.set()
    queue = SubmitQueue(gate, passed_through)

    with transaction.atomic():
        answer = queue.submit(item(user, game, 12))
        assert Score.objects.filter(pk=answer.score.pk).exists()
        transaction.set_rollback(True)

    assert not Score.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_plain_submissions_over_http_are_each_answered_with_their_standing(live_players):
    from rest_framework.test import APIClient

    game, players = live_players
    barrier = threading.Barrier(len(players))
    answers = {}

    def post(index, player):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {user_tokens(user=player)['access']}")
            barrier.wait()
            answers[index] = client.post(
                "/api/v1/scores", {"game_id": str(game.pk), "score": 100 + index}, format="json"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i, p)) for i, p in enumerate(players)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(response.status_code for response in answers.values()) == [201] * len(players)
    assert Score.objects.count() == len(players)
    # Every answer holds the player's standing after their own score: the best, 100 + last index, is rank 1.
    best = answers[len(players) - 1].json()["game_board"]
    assert (best["rank"], best["value"]) == (1, 100 + len(players) - 1)
    for response in answers.values():
        assert response.json()["game_board"]["rank"] <= response.json()["game_board"]["size"]


@pytest.fixture
def live_players():
    return GameFactory(), UserFactory.create_batch(12)
