"""The project's URLs plus views that fail on purpose, for the error-shape tests."""

from django.urls import path

from common import errors
from leaderboard_project.tests.test_errors import (
    BoomApi,
    ConflictApi,
    ConflictWithFieldsApi,
    RaisingApi,
    bug_while_handling_database_down_view,
    database_down_view,
    wrapped_database_down_view,
)
from leaderboard_project.urls import urlpatterns as project_urlpatterns

handler500 = errors.server_error

urlpatterns = [
    path("api/v1/_test/conflict", ConflictApi.as_view()),
    path("api/v1/_test/conflict-with-fields", ConflictWithFieldsApi.as_view()),
    path("api/v1/_test/boom", BoomApi.as_view()),
    path("api/v1/_test/raise", RaisingApi.as_view()),
    path("_test/boom", BoomApi.as_view()),
    path("api/v1/_test/database-down", database_down_view),
    path("api/v1/_test/wrapped-database-down", wrapped_database_down_view),
    path("api/v1/_test/bug-while-database-down", bug_while_handling_database_down_view),
    path("_test/database-down", database_down_view),
    *project_urlpatterns,
]
