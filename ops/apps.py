from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations: monitors, alerts, metrics"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Each installed app's monitors.py registers its monitor kinds and metrics (ops.registry).
        autodiscover_modules("monitors")
