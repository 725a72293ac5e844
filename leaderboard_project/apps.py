from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class PodiumConfig(AppConfig):
    """Project-wide start-up that belongs to no domain app (tracing, in-process background jobs)."""

    name = "leaderboard_project"
    verbose_name = "Podium"

    def ready(self) -> None:
        from common.tracing import configure_tracing

        # ready() runs inside django.setup(), before any server builds its
        # middleware chain, so the instrumentation sees every request.
        configure_tracing()

        from django.core.signals import request_started

        from .jobs import start_in_process_beat

        request_started.connect(start_in_process_beat, dispatch_uid="podium-in-process-beat")


class PodiumAdminConfig(AdminConfig):
    """Django's admin, on the site whose sign-in is throttled (``leaderboard_project.admin``)."""

    default_site = "leaderboard_project.admin.PodiumAdminSite"
