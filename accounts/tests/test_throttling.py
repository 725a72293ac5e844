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
            "login.account": "6/min",
            "register.ip": "4/min",
            "register.username": "2/min",
        },
    }


def test_login_is_throttled_per_username_and_address_with_retry_after(api_client, user, tight_rates):
    statuses = [
        api_client.post(LOGIN, {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.0.0.1").status_code
        for _ in range(4)
    ]

    assert statuses == [401, 401, 401, 429]
    throttled = api_client.post(
        LOGIN, {"username": user.username.upper(), "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "throttled"
    assert int(throttled["Retry-After"]) >= 1


def test_wrong_passwords_from_one_address_do_not_lock_the_player_out_from_another(api_client, user, tight_rates):
    for _ in range(10):
        api_client.post(LOGIN, {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.6.6.6")

    response = api_client.post(LOGIN, {"username": user.username, "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.1.1.1")

    assert response.status_code == 200


def test_an_account_tried_from_many_addresses_is_throttled_across_them(api_client, user, tight_rates):
    statuses = [
        api_client.post(LOGIN, {"username": user.username, "password": "wrong"}, REMOTE_ADDR=f"10.0.1.{i}").status_code
        for i in range(8)
    ]

    assert statuses == [401] * 6 + [429, 429]


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


@pytest.mark.parametrize(
    ("path", "form", "says"),
    [
        ("/accounts/login/", {}, "Too many sign-in attempts"),
        ("/admin/login/", {"this_is_the_login_form": "1", "next": "/admin/"}, "Too many sign-in attempts"),
        ("/api/auth/login/", {}, '"code": "throttled"'),  # under /api/ every error is the API's JSON
    ],
)
def test_every_sign_in_form_is_throttled_like_the_api(client, user, tight_rates, path, form, says):
    statuses = [
        client.post(path, {**form, "username": user.username, "password": "wrong"}, REMOTE_ADDR="10.7.7.7").status_code
        for _ in range(4)
    ]

    assert statuses == [200, 200, 200, 429]
    throttled = client.post(
        path, {**form, "username": user.username, "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.7.7.7"
    )
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert says in throttled.content.decode()


def test_the_api_and_the_sign_in_forms_share_their_counters(api_client, client, user, tight_rates):
    for _ in range(3):
        api_client.post(LOGIN, {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.8.8.8")

    response = client.post("/accounts/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.8.8.8")

    assert response.status_code == 429


def test_changing_the_email_is_throttled_so_registered_addresses_cannot_be_listed(client_for, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "profile": "3/hour"},
    }
    me = client_for(user)

    statuses = [me.patch("/api/v1/users/me", {"email": f"probe{i}@example.com"}).status_code for i in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert me.get("/api/v1/users/me").status_code == 200  # reading is not limited
