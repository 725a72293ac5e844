import pytest

from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/users/login"
REGISTER = "/api/v1/users/register"


@pytest.fixture
def tight_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "login.ip": "5/min",
            "login.username": "3/min",
            "register.ip": "4/min",
            "register.username": "2/min",
        },
    }


def test_login_is_throttled_per_username_with_retry_after(api_client, user, tight_rates):
    statuses = [
        api_client.post(LOGIN, {"username": user.username, "password": "wrong"}, REMOTE_ADDR=f"10.0.0.{i}").status_code
        for i in range(4)
    ]

    assert statuses == [401, 401, 401, 429]
    throttled = api_client.post(LOGIN, {"username": user.username.upper(), "password": DEFAULT_PASSWORD})
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "throttled"
    assert int(throttled["Retry-After"]) >= 1


def test_login_is_throttled_per_client_address_across_usernames(api_client, tight_rates):
    statuses = [
        api_client.post(LOGIN, {"username": f"someone{i}", "password": "x"}, REMOTE_ADDR="10.9.9.9").status_code
        for i in range(6)
    ]

    assert statuses == [401] * 5 + [429]


def test_login_throttle_of_one_address_does_not_block_another(api_client, user, tight_rates):
    for i in range(5):
        api_client.post(LOGIN, {"username": f"someone{i}", "password": "x"}, REMOTE_ADDR="10.9.9.9")

    response = api_client.post(LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.1.1.1")

    assert response.status_code == 200


def test_registration_is_throttled_per_client_address(api_client, tight_rates):
    statuses = [
        api_client.post(
            REGISTER,
            {"username": f"newcomer{i}", "email": f"n{i}@example.com", "password": DEFAULT_PASSWORD},
            REMOTE_ADDR="10.2.2.2",
        ).status_code
        for i in range(5)
    ]

    assert statuses == [201, 201, 201, 201, 429]


def test_registration_is_throttled_per_username(api_client, tight_rates):
    statuses = [
        api_client.post(
            REGISTER, {"username": "Taken", "email": "t@example.com", "password": "short"}, REMOTE_ADDR=f"10.3.3.{i}"
        ).status_code
        for i in range(3)
    ]

    assert statuses == [400, 400, 429]


def test_x_forwarded_for_is_ignored_without_trusted_proxies(api_client, tight_rates):
    statuses = [
        api_client.post(
            LOGIN,
            {"username": f"someone{i}", "password": "x"},
            REMOTE_ADDR="10.4.4.4",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{i}",
        ).status_code
        for i in range(6)
    ]

    assert statuses[-1] == 429


@pytest.mark.redis
def test_throttle_counters_live_in_redis_in_the_production_profile(api_client, user, tight_rates, settings):
    import redis

    for _ in range(3):
        api_client.post(LOGIN, {"username": user.username, "password": "wrong"})

    keys = redis.Redis.from_url(settings.REDIS_URL).keys("podium:*throttle_login.username_*")
    assert len(keys) == 1
    assert api_client.post(LOGIN, {"username": user.username, "password": "wrong"}).status_code == 429
