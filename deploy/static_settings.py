"""Build-time settings for `collectstatic` in deploy/Dockerfile: the gateway's own settings plus a STATIC_ROOT.

The gateway has no STATIC_ROOT of its own (its ASGI server does not serve static files); the image build
collects them here and nginx serves them from /static/.
"""

from config.settings import *  # noqa: F403

STATIC_ROOT = "/srv/static"
