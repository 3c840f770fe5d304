from django.urls import include, path

urlpatterns = [
    path("", include("walletkit.urls")),
    path("", include("transactions.urls")),
    path("", include("schedules.urls")),
    path("", include("paymentrequests.urls")),
]
