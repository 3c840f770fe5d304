from django.urls import include, path

urlpatterns = [path("", include("walletkit.urls"))]
