from django.urls import include, path

urlpatterns = [
    path("", include("walletkit.urls")),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("api.urls")),
]

# JSON for /api/ paths, Django's pages elsewhere.
handler400 = "api.errors.bad_request"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
