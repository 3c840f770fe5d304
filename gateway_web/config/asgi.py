"""The gateway under ASGI: Django for HTTP, Channels for the websocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django first: the websocket modules below import settings and models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from live.auth import LiveAuthMiddlewareStack  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin must be one of ALLOWED_HOSTS: a page on another site cannot ride the user's cookie.
        "websocket": AllowedHostsOriginValidator(LiveAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
