"""Every error, whatever raised it, is ``{"error": {"code", "message", "fields"?}}`` under /api/."""

import json
import re

import pytest
import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.test import Client
from kombu.exceptions import OperationalError as BrokerError
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.services import api_key_create, api_key_revoke
from common.errors import Conflict
from games.models import Game
from games.tests.factories import GameFactory

pytestmark = pytest.mark.django_db

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
ERRORS_URLS = pytest.mark.urls("leaderboard_project.tests.urls_for_errors")

LOGIN = "/api/v1/users/login"
REGISTER = "/api/v1/users/register"
ME = "/api/v1/users/me"
GAMES = "/api/v1/games"


# Views that fail on purpose, routed by urls_for_errors.


class _TestApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class ConflictApi(_TestApi):
    def post(self, request):
        raise Conflict()


class SlotTaken(Conflict):
    code = "slot_taken"
    message = "That slot is taken."


class ConflictWithFieldsApi(_TestApi):
    def post(self, request):
        raise SlotTaken(fields={"slot": ["Taken by someone else."]})


class BoomApi(_TestApi):
    def get(self, request):
        raise RuntimeError("boom")


class RaisingApi(_TestApi):
    """Raises the exception named by ``?kind=``, to check how each is translated."""

    EXCEPTIONS = {
        "http404": lambda: Http404("gone"),
        "django_permission_denied": lambda: DjangoPermissionDenied("no"),
        "suspicious": lambda: SuspiciousOperation("odd"),
        "data_too_big": lambda: RequestDataTooBig("big"),
        "validation_list": lambda: ValidationError(["Not like this."]),
        "validation_nested": lambda: ValidationError({"team": {"name": ["Too short."]}}),
        "database_down": lambda: OperationalError("connection to server at 127.0.0.1 failed"),
        "database_gone": lambda: InterfaceError("connection already closed"),
        "redis_down": lambda: redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        "redis_slow": lambda: redis.TimeoutError("Timeout reading from socket"),
        "broker_down": lambda: BrokerError("Error 111 connecting to the broker"),
    }

    def get(self, request):
        raise self.EXCEPTIONS[request.query_params["kind"]]()


def assert_error(response, status: int, code: str, *, with_fields: bool = False) -> dict:
    """The response is a JSON error with exactly the documented keys; returns its ``error``."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == ({"code", "message", "fields"} if with_fields else {"code", "message"})
    assert CODE_PATTERN.match(error["code"]), error["code"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def post_raw(client, path: str, body: bytes | str, content_type: str = "application/json"):
    return client.generic("POST", path, body, content_type=content_type)


# 400


def test_an_invalid_field_is_400_invalid_with_fields(api_client):
    response = api_client.post(REGISTER, {"username": "ab", "email": "nope", "password": "x"}, format="json")

    error = assert_error(response, 400, "invalid", with_fields=True)
    assert set(error["fields"]) == {"username", "email"}
    assert all(isinstance(message, str) for message in error["fields"]["username"])


def test_malformed_json_is_400_parse_error(api_client):
    response = post_raw(api_client, LOGIN, '{"username": "ace", ')

    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000],
    ids=["arrays", "objects"],
)
def test_json_nested_100000_deep_is_400_parse_error(api_client, body):
    response = post_raw(api_client, LOGIN, body)

    assert_error(response, 400, "parse_error")


def test_json_nested_one_level_past_the_limit_is_400_and_at_the_limit_parses():
    from io import BytesIO

    from rest_framework.exceptions import ParseError

    from common.parsers import MAX_JSON_DEPTH, BoundedJSONParser

    def parse(depth):
        return BoundedJSONParser().parse(BytesIO(("[" * depth + "]" * depth).encode()))

    assert parse(MAX_JSON_DEPTH) is not None
    with pytest.raises(ParseError):
        parse(MAX_JSON_DEPTH + 1)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_with_a_non_standard_constant_is_400_parse_error(api_client, constant):
    response = post_raw(api_client, LOGIN, f'{{"username": "ace", "password": {constant}}}')

    assert_error(response, 400, "parse_error")


def test_a_json_list_where_an_object_is_expected_is_400_invalid(api_client):
    response = post_raw(api_client, LOGIN, '[{"username": "ace", "password": "x"}]')

    assert_error(response, 400, "invalid")


def test_a_json_list_sent_to_a_strict_serializer_is_400_invalid(client_for, staff):
    response = post_raw(client_for(staff), GAMES, '["name"]')

    assert_error(response, 400, "invalid")
    assert not Game.objects.exists()


def test_invalid_utf8_is_400_parse_error(api_client):
    response = post_raw(api_client, LOGIN, b'{"username": "\xff\xfe", "password": "x"}')

    assert_error(response, 400, "parse_error")


def test_a_disallowed_host_under_api_is_400_json(api_client):
    response = api_client.get(GAMES, HTTP_HOST="evil.example.com")

    assert_error(response, 400, "invalid")


# 401


def test_a_missing_login_is_401_not_authenticated(api_client):
    response = api_client.get(ME)

    assert_error(response, 401, "not_authenticated")
    assert "WWW-Authenticate" in response


def test_a_garbage_bearer_token_is_401_token_not_valid(api_client):
    response = api_client.get(ME, HTTP_AUTHORIZATION="Bearer not.a.token")

    assert_error(response, 401, "token_not_valid")


def test_an_unknown_api_key_is_401_api_key_invalid(api_client):
    response = api_client.get(GAMES, HTTP_AUTHORIZATION="Api-Key pod_00000000_nope")

    assert_error(response, 401, "api_key_invalid")


def test_a_revoked_api_key_is_401_api_key_revoked(api_client):
    api_key, raw_key = api_key_create(name="server", games=[GameFactory()])
    api_key_revoke(api_key=api_key)

    response = api_client.get(GAMES, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    assert_error(response, 401, "api_key_revoked")


# 403


def test_a_player_writing_the_catalogue_is_403_permission_denied(client_for, user):
    response = client_for(user).post(GAMES, {"name": "Mine"}, format="json")

    assert_error(response, 403, "permission_denied")


def test_a_csrf_failure_under_api_is_403_json():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/api/auth/login/", {"username": "ace", "password": "x"})

    assert_error(response, 403, "permission_denied")


# 404


def test_an_unknown_game_is_404_not_found(api_client):
    response = api_client.get(f"{GAMES}/no-such-game")

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_url_is_404_json_with_debug_on_or_off(api_client, settings, debug):
    settings.DEBUG = debug

    response = api_client.get("/api/v1/no-such-thing")

    assert_error(response, 404, "not_found")


def test_an_unknown_non_api_url_is_not_forced_to_json(api_client):
    response = api_client.get("/no-such-page")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


# 405


def test_a_method_a_view_does_not_have_is_405_method_not_allowed(api_client):
    response = api_client.delete(LOGIN)

    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


# 406


def test_an_unservable_accept_header_is_406_not_acceptable(api_client):
    response = api_client.get(GAMES, HTTP_ACCEPT="text/csv")

    assert_error(response, 406, "not_acceptable")


# 409


@ERRORS_URLS
def test_a_conflict_is_409_conflict(api_client):
    response = api_client.post("/api/v1/_test/conflict")

    assert_error(response, 409, "conflict")


@ERRORS_URLS
def test_a_conflict_subclass_keeps_its_code_and_fields(api_client):
    response = api_client.post("/api/v1/_test/conflict-with-fields")

    error = assert_error(response, 409, "slot_taken", with_fields=True)
    assert error["fields"] == {"slot": ["Taken by someone else."]}


# 413


def test_a_json_body_over_the_limit_is_413_payload_too_large(api_client, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = json.dumps({"username": "ace", "password": "x" * 2000})

    response = post_raw(api_client, LOGIN, body)

    assert_error(response, 413, "payload_too_large")


def test_a_json_body_at_the_limit_is_accepted(api_client, settings):
    settings.API_MAX_BODY_BYTES = 1000
    start = '{"username": "ace", "password": "wrong-password"'
    body = start + " " * (1000 - len(start) - 1) + "}"

    response = post_raw(api_client, LOGIN, body)

    assert response.status_code == 401


def test_a_form_body_over_the_limit_is_413_payload_too_large(api_client, settings):
    body = "username=ace&password=" + "x" * settings.API_MAX_BODY_BYTES

    response = post_raw(api_client, LOGIN, body, content_type="application/x-www-form-urlencoded")

    assert_error(response, 413, "payload_too_large")


def test_a_multipart_body_is_415_without_being_read(api_client, settings):
    settings.API_MAX_BODY_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    upload = SimpleUploadedFile("padding.bin", b"x" * 5000)

    response = api_client.post(LOGIN, {"username": "ace", "password": "x", "padding": upload}, format="multipart")

    assert_error(response, 415, "unsupported_media_type")


# 415


def test_a_text_plain_body_is_415_unsupported_media_type(api_client):
    response = post_raw(api_client, LOGIN, "username=ace", content_type="text/plain")

    assert_error(response, 415, "unsupported_media_type")


# 429


def test_a_throttled_login_is_429_with_retry_after(api_client, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login.username": "2/min"},
    }
    attempt = {"username": user.username, "password": "wrong-password"}
    first = api_client.post(LOGIN, attempt, format="json")
    second = api_client.post(LOGIN, attempt, format="json")

    response = api_client.post(LOGIN, attempt, format="json")

    assert (first.status_code, second.status_code) == (401, 401)
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60


# 503: a dependency is down


def database_down_view(request):
    """A plain Django view (not DRF) whose database went away."""
    raise OperationalError("server closed the connection unexpectedly")


@ERRORS_URLS
@pytest.mark.parametrize("kind", ["database_down", "database_gone", "redis_down", "redis_slow", "broker_down"])
def test_an_unreachable_dependency_in_an_api_view_is_503_with_retry_after(api_client, kind):
    response = api_client.get("/api/v1/_test/raise", {"kind": kind})

    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert b"127.0.0.1" not in response.content


@ERRORS_URLS
@pytest.mark.parametrize(("path", "json"), [("/api/v1/_test/database-down", True), ("/_test/database-down", False)])
def test_an_unreachable_database_outside_drf_is_503_too(path, json):
    client = Client(raise_request_exception=False)

    response = client.get(path)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("application/json") == json
    if json:
        assert response.json()["error"]["code"] == "service_unavailable"
    else:
        assert b"briefly unavailable" in response.content


@ERRORS_URLS
def test_an_error_caused_by_an_unreachable_dependency_is_503(api_client):
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/_test/wrapped-database-down")

    assert response.status_code == 503


def wrapped_database_down_view(request):
    try:
        raise OperationalError("the server is restarting")
    except OperationalError as error:
        raise RuntimeError("could not load the board") from error


def bug_while_handling_database_down_view(request):
    try:
        raise OperationalError("the server is restarting")
    except OperationalError:
        return {}["missing"]  # a bug in the handling, not the dependency


@ERRORS_URLS
def test_a_bug_met_while_handling_a_dependencys_error_is_still_a_500():
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/_test/bug-while-database-down")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


# 500


@ERRORS_URLS
@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_exception_under_api_is_500_server_error(settings, debug):
    settings.DEBUG = debug
    client = APIClient()
    client.raise_request_exception = False

    response = client.get("/api/v1/_test/boom")

    assert_error(response, 500, "server_error")
    assert b"boom" not in response.content


@ERRORS_URLS
def test_an_unexpected_exception_outside_api_is_not_forced_to_json():
    client = Client(raise_request_exception=False)

    response = client.get("/_test/boom")

    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


# Django and DRF exceptions raised inside an API view


@ERRORS_URLS
@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("http404", 404, "not_found"),
        ("django_permission_denied", 403, "permission_denied"),
        ("suspicious", 400, "parse_error"),
        ("data_too_big", 413, "payload_too_large"),
        ("validation_list", 400, "invalid"),
    ],
)
def test_exceptions_raised_in_a_view_are_translated(api_client, kind, status, code):
    response = api_client.get("/api/v1/_test/raise", {"kind": kind})

    assert_error(response, status, code)


@ERRORS_URLS
def test_a_nested_validation_error_keeps_its_shape_in_fields(api_client):
    response = api_client.get("/api/v1/_test/raise", {"kind": "validation_nested"})

    error = assert_error(response, 400, "invalid", with_fields=True)
    assert error["fields"] == {"team": {"name": ["Too short."]}}
