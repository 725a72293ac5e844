"""ASGI entry point: HTTP and WebSockets from one process (daphne in the embedded demo;
in production the WebSocket servers run this too, behind the proxy's ``/ws/`` route).

No origin check on WebSockets: clients authenticate with a token in the URL, not a
cookie, so another site's page gains nothing by connecting.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leaderboard_project.settings")
# No persistent database connections under ASGI, as Django advises: its handler runs sync code in threads of
# its own, and each would keep a PostgreSQL connection open (they ran PostgreSQL out of connections in seconds).
os.environ.setdefault("DB_CONN_MAX_AGE", "0")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)})

# What is loaded by now lives as long as the process: frozen, no collection walks it again. Then the collector's
# thresholds for a server holding thousands of connections (settings.ASGI_GC_THRESHOLD).
gc.freeze()
if settings.ASGI_GC_THRESHOLD:
    gc.set_threshold(*settings.ASGI_GC_THRESHOLD)
