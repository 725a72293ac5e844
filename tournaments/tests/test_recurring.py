"""Recurring tournaments: a template keeps exactly one upcoming instance, created at its next cron time."""

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from games.tests.factories import GameFactory
from tournaments import services
from tournaments.models import RecurringTournament, Status, Tournament

pytestmark = pytest.mark.django_db

# A Monday noon (UTC); the template's schedule names Fridays at 18:00 UTC.
MONDAY = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
FRIDAY = datetime(2030, 1, 11, 18, 0, tzinfo=UTC)
NEXT_FRIDAY = FRIDAY + timedelta(weeks=1)


@pytest.fixture
def make_template(game, organizer):
    def make(**fields) -> RecurringTournament:
        fields = {
            "name": "Friday Night",
            "game": game,
            "organizer": organizer,
            "schedule": "0 18 * * 5",
            "duration": timedelta(hours=2),
            "prize_pool": 500,
            "max_participants": 64,
        } | fields
        return RecurringTournament.objects.create(**fields)

    return make


@pytest.fixture
def template(make_template):
    return make_template()


def test_a_template_creates_one_instance_at_its_next_cron_time(template, game, organizer):
    created = services.recurring_create_due(now=MONDAY)

    [instance] = created
    assert Tournament.objects.get() == instance
    assert (instance.start_time, instance.end_time) == (FRIDAY, FRIDAY + timedelta(hours=2))
    assert instance.recurrence == template
    assert instance.status == Status.SCHEDULED
    assert instance.name == "Friday Night 2030-01-11 18:00"
    assert (instance.game, instance.organizer) == (game, organizer)
    assert (instance.prize_pool, instance.max_participants, instance.prize_split) == (500, 64, [50, 30, 20])


def test_the_instance_copies_the_templates_rules(make_template):
    make_template(
        format="limited_attempts",
        max_attempts=3,
        prize_split=[70, 30],
        description="Three tries.",
        duration=timedelta(days=2),
    )

    [instance] = services.recurring_create_due(now=MONDAY)

    assert (instance.format, instance.max_attempts, instance.prize_split) == ("limited_attempts", 3, [70, 30])
    assert instance.description == "Three tries."
    assert instance.end_time - instance.start_time == timedelta(days=2)


def test_calling_again_before_the_start_creates_nothing(template):
    services.recurring_create_due(now=MONDAY)

    again = services.recurring_create_due(now=MONDAY)
    later = services.recurring_create_due(now=FRIDAY - timedelta(seconds=1))

    assert again == later == []
    assert Tournament.objects.count() == 1


def test_once_the_instance_has_started_the_next_occurrence_is_created(template):
    [first] = services.recurring_create_due(now=MONDAY)

    [second] = services.recurring_create_due(now=FRIDAY + timedelta(minutes=30))

    assert (second.start_time, second.end_time) == (NEXT_FRIDAY, NEXT_FRIDAY + timedelta(hours=2))
    assert second.recurrence == template
    assert list(template.instances.order_by("start_time")) == [first, second]


def test_at_the_exact_start_time_the_next_occurrence_is_created(template):
    services.recurring_create_due(now=MONDAY)

    [second] = services.recurring_create_due(now=FRIDAY)

    assert second.start_time == NEXT_FRIDAY


def test_after_a_long_gap_only_the_next_occurrence_is_created(template):
    services.recurring_create_due(now=MONDAY)

    created = services.recurring_create_due(now=FRIDAY + timedelta(weeks=5, hours=1))

    assert [t.start_time for t in created] == [FRIDAY + timedelta(weeks=6)]
    assert Tournament.objects.count() == 2


def test_an_inactive_template_creates_nothing(make_template):
    make_template(is_active=False)

    assert services.recurring_create_due(now=MONDAY) == []
    assert not Tournament.objects.exists()


def test_each_active_template_gets_its_own_instance(make_template):
    friday = make_template()
    daily = make_template(name="Daily", schedule="30 9 * * *")

    created = services.recurring_create_due(now=MONDAY)

    assert {(t.recurrence, t.start_time) for t in created} == {
        (friday, FRIDAY),
        (daily, datetime(2030, 1, 8, 9, 30, tzinfo=UTC)),
    }


def test_the_schedule_is_read_in_utc_whatever_the_zone_of_now(template):
    paris_monday = MONDAY.astimezone(ZoneInfo("Europe/Paris"))

    [instance] = services.recurring_create_due(now=paris_monday)

    assert instance.start_time == FRIDAY


def test_a_template_that_cannot_create_is_logged_and_the_others_still_run(make_template, caplog):
    make_template(name="Retired", game=GameFactory(is_active=False))
    working = make_template(name="Working")

    with caplog.at_level(logging.WARNING, logger="tournaments.services"):
        created = services.recurring_create_due(now=MONDAY)

    assert [t.recurrence for t in created] == [working]
    assert "cannot create an instance" in caplog.text


def test_the_tick_creates_due_instances(template):
    report = services.tournaments_tick(now=MONDAY)
    again = services.tournaments_tick(now=MONDAY)

    assert (report.created, again.created) == (1, 0)
    assert Tournament.objects.filter(recurrence=template, start_time=FRIDAY).exists()


def test_a_template_with_the_longest_name_still_creates_instances_that_fit(make_template):
    make_template(name="x" * 100)

    [instance] = services.recurring_create_due(now=MONDAY)

    assert len(instance.name) <= Tournament._meta.get_field("name").max_length


# Validation


@pytest.mark.parametrize(
    "schedule",
    ["61 18 * * 5", "0 25 * * *", "every friday", "", "0 18 * *", "0 18 * * 5 2030", "@weekly"],
)
def test_recurring_validate_refuses_a_bad_cron(schedule):
    with pytest.raises(services.TournamentInvalid) as refused:
        services.recurring_validate(schedule=schedule, duration=timedelta(hours=2))

    assert refused.value.code == "invalid"
    assert set(refused.value.fields) == {"schedule"}


def test_recurring_validate_refuses_a_schedule_that_never_fires():
    with pytest.raises(services.TournamentInvalid) as refused:
        services.recurring_validate(schedule="0 0 30 2 *", duration=timedelta(hours=2))

    assert set(refused.value.fields) == {"schedule"}


@pytest.mark.parametrize(
    "duration",
    [timedelta(0), timedelta(seconds=59), timedelta(days=31, seconds=1), timedelta(hours=-1)],
    ids=["zero", "under-a-minute", "over-max-days", "negative"],
)
def test_recurring_validate_refuses_a_bad_duration(settings, duration):
    settings.TOURNAMENT_MAX_DAYS = 31
    with pytest.raises(services.TournamentInvalid) as refused:
        services.recurring_validate(schedule="0 18 * * 5", duration=duration)

    assert set(refused.value.fields) == {"duration"}


@pytest.mark.parametrize("duration", [timedelta(minutes=1), timedelta(days=31)], ids=["one-minute", "max-days"])
def test_recurring_validate_accepts_the_bounds(settings, duration):
    settings.TOURNAMENT_MAX_DAYS = 31
    assert services.recurring_validate(schedule="*/15 * * * 1-5", duration=duration) is None


def test_recurring_next_start_is_strictly_after():
    assert services.recurring_next_start(schedule="0 18 * * 5", after=FRIDAY) == NEXT_FRIDAY
    assert services.recurring_next_start(schedule="0 18 * * 5", after=MONDAY) == FRIDAY
