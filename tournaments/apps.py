from django.apps import AppConfig


class TournamentsConfig(AppConfig):
    name = "tournaments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from rankings.boards import board_scope_register

        from .models import Tournament
        from .selectors import tournament_game
        from .services import payouts_run_by, tournament_deleted
        from .tasks import tournament_pay_later

        # A deleted tournament (the admin may delete one) takes its board with it.
        post_delete.connect(tournament_deleted, sender=Tournament, dispatch_uid="tournaments-board-cleanup")
        payouts_run_by(tournament_pay_later)
        board_scope_register("tournament", game=tournament_game)
