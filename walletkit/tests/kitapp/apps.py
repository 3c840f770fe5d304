from django.apps import AppConfig


class KitappConfig(AppConfig):
    name = "walletkit.tests.kitapp"
    label = "kitapp"
    default_auto_field = "django.db.models.BigAutoField"
