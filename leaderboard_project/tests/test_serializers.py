from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers

from common.serializers import timestamp


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 12, 0, 5, 123456, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_timestamp_renders_as_drfs_datetime_field(moment):
    assert timestamp(moment) == serializers.DateTimeField().to_representation(moment)


def test_timestamp_of_nothing_is_null():
    assert timestamp(None) is None
