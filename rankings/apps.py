from django.apps import AppConfig


class RankingsConfig(AppConfig):
    name = "rankings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common.hotpath import routes

        from . import api

        game = r"/api/v1/leaderboard/game/(?P<game_id>[-a-zA-Z0-9_]+)"
        routes.add("GET", r"/api/v1/leaderboard/global", api.leaderboard_hot, example="/api/v1/leaderboard/global")
        routes.add("GET", game, api.leaderboard_hot, example="/api/v1/leaderboard/game/example")
