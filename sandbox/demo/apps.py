from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The sandbox's own app: only the ``seed_demo`` management command lives here."""

    name = "demo"
    label = "demo"
    verbose_name = "Sandbox demo"
    default_auto_field = "django.db.models.BigAutoField"
