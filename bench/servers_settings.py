"""Settings of bench.servers' servers: Podium's own, with one bench-only URL added (``bench.servers_urls``).

Only the URLconf differs: the route is appended after Podium's, so every
Podium request resolves exactly as in production.
"""

from leaderboard_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.servers_urls"
