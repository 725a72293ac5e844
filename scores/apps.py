from django.apps import AppConfig


class ScoresConfig(AppConfig):
    name = "scores"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common.hotpath import routes
        from tournaments.services import scores_read_by

        from . import api
        from .selectors import scores_counted_in_window

        scores_read_by(scores_counted_in_window)

        routes.add("POST", r"/api/v1/scores", api.score_submit_hot, example="/api/v1/scores")
