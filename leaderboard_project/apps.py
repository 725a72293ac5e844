from django.apps import AppConfig


class PodiumConfig(AppConfig):
    """Project-wide start-up that belongs to no domain app (tracing)."""

    name = "leaderboard_project"
    verbose_name = "Podium"

    def ready(self) -> None:
        from .tracing import configure_tracing

        # ready() runs inside django.setup(), before any server builds its
        # middleware chain, so the instrumentation sees every request.
        configure_tracing()
