from django.apps import AppConfig


class TournamentsConfig(AppConfig):
    name = "tournaments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from .models import Tournament
        from .services import tournament_deleted

        # A deleted tournament (the admin may delete one) takes its board with it.
        post_delete.connect(tournament_deleted, sender=Tournament, dispatch_uid="tournaments-board-cleanup")
