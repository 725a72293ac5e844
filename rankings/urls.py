from django.urls import path

from . import api

urlpatterns = [
    path("users/<uuid:user_id>", api.UserDetailApi.as_view(), name="user-detail"),
    path("leaderboard/global", api.GlobalLeaderboardApi.as_view(), name="leaderboard-global"),
    path("leaderboard/global/players/<uuid:user_id>", api.GlobalPlayerApi.as_view(), name="leaderboard-global-player"),
    path("leaderboard/game/<slug:game_id>", api.GameLeaderboardApi.as_view(), name="leaderboard-game"),
    path(
        "leaderboard/game/<slug:game_id>/players/<uuid:user_id>",
        api.GamePlayerApi.as_view(),
        name="leaderboard-game-player",
    ),
]
