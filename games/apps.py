from django.apps import AppConfig


class GamesConfig(AppConfig):
    name = "games"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import Game
        from .selectors import games_cached

        post_save.connect(games_cached.clear, sender=Game, dispatch_uid="games-cache-save")
        post_delete.connect(games_cached.clear, sender=Game, dispatch_uid="games-cache-delete")
