"""Settings of bench.ws_fanout's baseline server: Podium's own; on the core layer, Redis reads allowed 30 s.

The baseline runs on the default channels-redis layer, ``RedisChannelLayer``,
which receives with ``BZPOPMIN`` blocking up to 5 s (its ``brpop_timeout``),
while redis-py 8 ends any read after 5 s by default (``socket_timeout``): a
consumer that has nothing to receive for 5 s dies with
``redis.exceptions.TimeoutError`` (one of them every 5 s while the clients
connect and wait). The baseline is there to measure Channels' fan-out, not that
clash, so its connections to Redis wait up to 30 s for a reply. The pub/sub
layer (``REALTIME_CHANNEL_LAYER=pubsub``) is left as Podium configures it: it
does not block on reads. Everything else is Podium's settings.
"""

from leaderboard_project.settings import *  # noqa: F403

if REALTIME_CHANNEL_LAYER == "core":  # noqa: F405
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},  # noqa: F405
        }
    }
