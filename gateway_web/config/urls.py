from django.conf import settings
from django.contrib.staticfiles.views import serve as static_serve
from django.urls import include, path, re_path

urlpatterns = [
    path("", include("walletkit.urls")),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("api.urls")),
    path("", include("pages.urls")),
]

if settings.SERVE_STATIC:
    # The embedded stack has no nginx in front: the gateway serves the vendored assets itself
    # (API docs, frontend), straight from the app and frontend folders. Production sets it off.
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", static_serve, {"insecure": True}))

# JSON for /api/ paths, Django's pages elsewhere.
handler400 = "api.errors.bad_request"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
