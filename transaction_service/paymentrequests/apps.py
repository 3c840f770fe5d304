from django.apps import AppConfig


class PaymentRequestsConfig(AppConfig):
    name = "paymentrequests"
    default_auto_field = "django.db.models.BigAutoField"
