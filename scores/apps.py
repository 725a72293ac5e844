from django.apps import AppConfig


class ScoresConfig(AppConfig):
    name = "scores"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leaderboard_project.hotpath import routes

        from . import api

        routes.add("POST", r"/api/v1/scores", api.score_submit_hot, example="/api/v1/scores")
