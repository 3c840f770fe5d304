"""The gateway under ASGI (uvicorn): Django's WSGI app for HTTP, Channels for the websocket.

HTTP goes to Django's *WSGI* handler on a fixed pool of threads (a2wsgi), not to Django's ASGI
handler: that one runs every request's sync middleware and view in a thread of its own
(asgiref's ThreadSensitiveContext), so nothing per thread survives a request — Django's cache
connection to Redis (the throttles), the database connection — and each request pays several
loop/thread hops. A fixed pool keeps all of it, like gunicorn's gthread workers, and still
serves the websocket on the same port (one port for `make up`; docs/decisions/0010).
"""

import os

from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django first: the websocket modules below import settings and models.
django_http_app = WSGIMiddleware(get_wsgi_application(), workers=settings.GATEWAY_HTTP_THREADS)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from live.auth import LiveAuthMiddlewareStack  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_http_app,
        # Origin must be one of ALLOWED_HOSTS: a page on another site cannot ride the user's cookie.
        "websocket": AllowedHostsOriginValidator(LiveAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
