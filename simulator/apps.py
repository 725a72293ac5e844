from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "simulator"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from common.metrics import register_scrape_collector

        from .metrics import SimulatorCollector

        register_scrape_collector(SimulatorCollector())
