"""The review queue: the scan flags outliers, too-fast and too-frequent scores; staff resolve flags, audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ModerationAudit
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import ReviewCursor, Score, ScoreAudit, ScoreFlag, ScoreStats, Source
from scores.services import review_scan, score_stats_refresh, score_submit, score_void

pytestmark = pytest.mark.django_db(transaction=True)

FLAGS = "/api/v1/moderation/flags"
BOARD = "/api/v1/leaderboard/game/arena"


@pytest.fixture(autouse=True)
def _review(settings):
    settings.MODERATION_SCAN_SETTLE_SECONDS = 0
    settings.MODERATION_MIN_SAMPLES = 20
    settings.MODERATION_OUTLIER_SIGMAS = 4.0
    settings.MODERATION_MIN_SECONDS = 2.0
    settings.MODERATION_MAX_PER_HOUR = 120


def at(seconds_ago: float):
    return timezone.now() - timedelta(seconds=seconds_ago)


def stored(user, game, value, seconds_ago=0.0, source=Source.CLIENT):
    """A score as the write path stores it, made ``seconds_ago``: the scan reads only the scores table."""
    return Score.objects.create(user=user, game=game, value=value, source=source, created_at=at(seconds_ago))


def usual_scores(game, count=30, start=10_000):
    """``count`` players' scores from 90 to 110, made days ago."""
    for index in range(count):
        stored(UserFactory(), game, 90 + index % 21, seconds_ago=3 * 86400 + start + index * 600)


def flags_by_score() -> dict[int, ScoreFlag]:
    return {flag.score_id: flag for flag in ScoreFlag.objects.all()}


def test_an_outlier_is_flagged_with_the_bound_it_crossed_and_a_usual_score_is_not(game):
    usual_scores(game)
    cheater, honest = UserFactory(), UserFactory()
    wild = stored(cheater, game, 10_000)
    fine = stored(honest, game, 115)

    flags = review_scan()

    assert [flag.score_id for flag in flags] == [wild.pk]
    flag = flags_by_score()[wild.pk]
    assert flag.reason_list == ["outlier"] and flag.status == "open"
    assert flag.user_id == cheater.pk and flag.game_id == game.pk
    outlier = flag.detail["outlier"]
    assert outlier["limit"] == 4.0 and outlier["sigmas"] > 4.0
    assert outlier["median"] == 97.5 and 5 < outlier["spread"] < 10
    assert fine.pk not in flags_by_score()
    assert ScoreStats.objects.get(game=game).samples == 32  # the median: the wild score moved nothing
    assert score_stats_refresh(game=game).samples == 31  # a score with an open flag stays out of the bounds


def test_for_a_game_where_low_scores_win_a_low_outlier_is_flagged():
    game = GameFactory(sort_order="asc")
    usual_scores(game)
    fast = stored(UserFactory(), game, 1)
    stored(UserFactory(), game, 10_000)  # far off, but worse: nobody cheats to lose

    review_scan()

    assert set(flags_by_score()) == {fast.pk}


def test_a_game_with_too_few_scores_has_no_outliers_yet(game, settings):
    usual_scores(game, count=10)
    wild = stored(UserFactory(), game, 10_000)

    review_scan()

    assert wild.pk not in flags_by_score()


def test_a_score_soon_after_the_players_previous_one_is_too_fast(game):
    player = UserFactory()
    first = stored(player, game, 100, seconds_ago=30)
    quick = stored(player, game, 101, seconds_ago=29.5)
    later = stored(player, game, 102, seconds_ago=20)
    other = stored(UserFactory(), game, 103, seconds_ago=29.4)  # another player's pace is their own

    review_scan()

    flags = flags_by_score()
    assert set(flags) == {quick.pk}
    assert flags[quick.pk].reason_list == ["too_fast"]
    assert flags[quick.pk].detail["too_fast"] == {"seconds": pytest.approx(0.5, abs=0.05), "limit": 2.0}
    assert {first.pk, later.pk, other.pk}.isdisjoint(flags)


def test_the_scores_past_the_hourly_most_are_too_frequent(game, settings):
    settings.MODERATION_MAX_PER_HOUR = 3
    player = UserFactory()
    scores = [stored(player, game, 100 + i, seconds_ago=3000 - i * 600) for i in range(5)]  # 10 minutes apart

    review_scan()

    flags = flags_by_score()
    assert set(flags) == {scores[3].pk, scores[4].pk}
    assert flags[scores[3].pk].detail["too_frequent"] == {"in_hour": 4, "limit": 3}
    assert flags[scores[4].pk].detail["too_frequent"] == {"in_hour": 5, "limit": 3}


def test_an_hour_later_the_count_starts_again(game, settings):
    settings.MODERATION_MAX_PER_HOUR = 2
    player = UserFactory()
    early = [stored(player, game, 100 + i, seconds_ago=9000 - i * 600) for i in range(2)]
    late = stored(player, game, 150, seconds_ago=100)

    review_scan()

    assert {early[0].pk, early[1].pk, late.pk}.isdisjoint(flags_by_score())


def test_one_score_may_be_flagged_for_every_reason_at_once(game, settings):
    settings.MODERATION_MAX_PER_HOUR = 1
    usual_scores(game)
    player = UserFactory()
    stored(player, game, 100, seconds_ago=10)
    both = stored(player, game, 99_999, seconds_ago=9)

    review_scan()

    assert flags_by_score()[both.pk].reason_list == ["outlier", "too_fast", "too_frequent"]


def test_what_the_scan_leaves_alone(game, settings):
    settings.MODERATION_MIN_SECONDS = 10
    synthetic = GameFactory(synthetic=True)
    bot, banned, player = UserFactory(), UserFactory(shadow_banned_at=timezone.now()), UserFactory()
    for seconds in (5, 4):
        stored(bot, game, 100, seconds_ago=seconds, source=Source.SIMULATOR)
        stored(player, synthetic, 100, seconds_ago=seconds)
        stored(banned, game, 100, seconds_ago=seconds)
    stored(player, game, 100, seconds_ago=6)
    voided = stored(player, game, 100, seconds_ago=5)  # too fast, but void already
    quick = stored(player, game, 100, seconds_ago=2)  # too fast: the void score still counts as one made before
    score_void(score=voided, actor=UserFactory(is_staff=True), reason="Cheated.")

    flags = review_scan()

    assert [flag.score_id for flag in flags] == [quick.pk]


def test_each_score_is_reviewed_once_and_a_score_not_settled_waits_for_the_next_scan(game, settings):
    settings.MODERATION_SCAN_SETTLE_SECONDS = 5
    player = UserFactory()
    stored(player, game, 100, seconds_ago=20)
    first = stored(player, game, 100, seconds_ago=19)
    stored(player, game, 100, seconds_ago=1.5)  # these two may belong to transactions still open
    fresh = stored(player, game, 100, seconds_ago=1)

    assert [flag.score_id for flag in review_scan()] == [first.pk]
    assert review_scan() == []
    assert [flag.score_id for flag in review_scan(now=timezone.now() + timedelta(seconds=10))] == [fresh.pk]
    assert ScoreFlag.objects.count() == 2


def test_a_backlog_is_read_in_passes_up_to_its_end(game, settings):
    settings.MODERATION_SCAN_BATCH = 3
    player = UserFactory()
    scores = [stored(player, game, 100, seconds_ago=100 - i) for i in range(8)]

    flags = review_scan()

    assert sorted(flag.score_id for flag in flags) == [score.pk for score in scores[1:]]
    cursor = ReviewCursor.objects.get()
    assert (cursor.scanned_to, cursor.last_id) == (scores[-1].created_at, scores[-1].pk)


def test_scores_made_in_the_same_instant_are_each_read_once_across_passes(game, settings):
    settings.MODERATION_SCAN_BATCH = 2
    moment = at(50)
    player = UserFactory()
    same = [Score.objects.create(user=player, game=game, value=100, created_at=moment) for _ in range(5)]

    flags = review_scan()

    assert sorted(flag.score_id for flag in flags) == [score.pk for score in same[1:]]


def test_the_submit_path_feeds_the_queue(game):
    player = UserFactory()
    score_submit(user=player, game=game, value=100)
    second = score_submit(user=player, game=game, value=101).score

    assert [flag.score_id for flag in review_scan()] == [second.pk]


# The API: staff list, read and resolve flags.


@pytest.fixture
def flagged(game):
    """Two players with open flags (the cheater has two), one already dismissed."""
    cheater, other = UserFactory(username="cheater"), UserFactory(username="other")
    for player in (cheater, other):
        score_submit(user=player, game=game, value=100)
    scores = {
        "cheat_1": score_submit(user=cheater, game=game, value=900).score,
        "cheat_2": score_submit(user=cheater, game=game, value=950).score,
        "other": score_submit(user=other, game=game, value=120).score,
    }
    review_scan()
    return {name: ScoreFlag.objects.get(score=score) for name, score in scores.items()}


def test_only_staff_see_the_queue(api_client, client_for, staff, flagged):
    assert api_client.get(FLAGS).status_code == 401
    assert client_for(UserFactory()).get(FLAGS).status_code == 403
    assert client_for(flagged["other"].user).post(f"{FLAGS}/{flagged['other'].pk}/resolve").status_code == 403

    response = client_for(staff).get(FLAGS)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    newest = body["results"][0]
    assert newest["id"] == flagged["other"].pk and newest["username"] == "other" and newest["score"] == 120
    assert newest["reasons"] == ["too_fast"] and newest["status"] == "open" and newest["game_slug"] == "arena"
    assert newest["detail"]["too_fast"]["limit"] == 2.0
    assert client_for(staff).get(f"{FLAGS}/{flagged['cheat_1'].pk}").json()["score"] == 900


def test_the_queue_filters_by_status_game_reason_and_player(client_for, staff, flagged, game):
    staff_client = client_for(staff)

    def ids(query):
        response = staff_client.get(FLAGS + query)
        assert response.status_code == 200, response.content
        return {flag["id"] for flag in response.json()["results"]}

    everyone = {flag.pk for flag in flagged.values()}
    assert ids(f"?game={game.slug}") == ids(f"?game={game.pk}") == ids("?reason=too_fast") == everyone
    assert ids("?reason=outlier") == ids("?status=dismissed") == set()
    assert ids(f"?user_id={flagged['other'].user_id}") == {flagged["other"].pk}
    assert ids("?status=all") == everyone
    assert staff_client.get(FLAGS + "?status=maybe").status_code == 400
    assert staff_client.get(FLAGS + "?reason=lucky").status_code == 400
    assert staff_client.get(FLAGS + "?game=nope").json()["error"]["fields"] == {"game": ["No such game."]}


def test_dismissing_keeps_the_score_and_records_who_and_why(client_for, staff, flagged, api_client):
    flag = flagged["other"]

    response = client_for(staff).post(f"{FLAGS}/{flag.pk}/resolve", {"action": "dismiss", "reason": "Plausible."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["resolved"] == [flag.pk]
    assert body["flag"]["status"] == "dismissed" and body["flag"]["note"] == "Plausible."
    assert body["flag"]["resolved_by"] == staff.username and body["flag"]["resolved_at"]
    flag.refresh_from_db()
    assert (flag.status, flag.resolved_by, flag.note) == ("dismissed", staff, "Plausible.")
    assert not Score.objects.get(pk=flag.score_id).is_void
    again = client_for(staff).post(f"{FLAGS}/{flag.pk}/resolve", {"action": "void", "reason": "Changed my mind."})
    assert again.status_code == 409 and again.json()["error"]["code"] == "flag_resolved"


def test_voiding_from_the_queue_takes_the_score_off_the_board_and_audits_it(client_for, staff, flagged, api_client):
    flag = flagged["cheat_2"]

    response = client_for(staff).post(f"{FLAGS}/{flag.pk}/resolve", {"action": "void", "reason": "Impossible."})

    assert response.status_code == 200, response.content
    assert response.json()["flag"]["status"] == "voided" and response.json()["flag"]["score_void"] is True
    assert ScoreAudit.objects.get(score_id=flag.score_id).reason == "Impossible."
    board = api_client.get(BOARD).json()["entries"]
    assert [(entry["username"], entry["value"]) for entry in board] == [("cheater", 900), ("other", 120)]
    assert ScoreFlag.objects.get(pk=flagged["cheat_1"].pk).status == "open"


def test_banning_from_the_queue_resolves_every_open_flag_of_the_player(client_for, staff, flagged, api_client):
    flag = flagged["cheat_1"]

    response = client_for(staff).post(f"{FLAGS}/{flag.pk}/resolve", {"action": "ban", "reason": "Bot."})

    assert response.status_code == 200, response.content
    assert response.json()["resolved"] == [flag.pk, flagged["cheat_2"].pk]
    assert {f.status for f in ScoreFlag.objects.filter(user=flag.user)} == {"banned"}
    assert ScoreFlag.objects.get(pk=flagged["other"].pk).status == "open"
    assert ModerationAudit.objects.get(user=flag.user).action == "shadow_ban"
    board = api_client.get(BOARD).json()["entries"]
    assert [entry["username"] for entry in board] == ["other"]


def test_resolving_needs_an_action_and_a_reason(client_for, staff, flagged):
    url = f"{FLAGS}/{flagged['other'].pk}/resolve"
    staff_client = client_for(staff)

    missing = staff_client.post(url, {"action": "dismiss"})
    wrong = staff_client.post(url, {"action": "forgive", "reason": "x"})
    unknown = staff_client.post(f"{FLAGS}/999999/resolve", {"action": "dismiss", "reason": "x"})
    too_long = staff_client.post(url, {"action": "dismiss", "reason": "x" * 501})

    assert missing.status_code == wrong.status_code == too_long.status_code == 400
    assert "reason" in missing.json()["error"]["fields"] and "action" in wrong.json()["error"]["fields"]
    assert unknown.status_code == 404 and staff_client.get(f"{FLAGS}/999999").status_code == 404
    assert ScoreFlag.objects.get(pk=flagged["other"].pk).status == "open"


def test_the_scan_runs_on_beat_and_in_the_embedded_job_thread(settings):
    assert settings.CELERY_BEAT_SCHEDULE["review-scan"]["task"] == "scores.tasks.review_scan"
    assert settings.CELERY_BEAT_SCHEDULE["review-scan"]["schedule"] == settings.MODERATION_SCAN_SECONDS


def test_the_first_scan_reads_the_last_day_only(game):
    player = UserFactory()
    old = [stored(player, game, 100, seconds_ago=2 * 86400 + s) for s in (1, 0)]  # too fast, two days ago
    recent = [stored(player, game, 100, seconds_ago=s) for s in (11, 10)]

    flags = review_scan()

    assert [flag.score_id for flag in flags] == [recent[1].pk]
    assert old[1].pk not in flags_by_score()
