from django.urls import include, path

urlpatterns = [
    path("", include("walletkit.urls")),
    path("", include("ledger.urls")),
    path("", include("reconciliation.urls")),
]
