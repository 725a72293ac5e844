"""gunicorn settings of the production profile's web process (the HTTP API and the pages over WSGI).

Address and size come from the environment: ``WEB_BIND`` (default ``127.0.0.1:8000``) and ``WEB_WORKERS``
(default 2, one sync worker a core: each request is short and bound by the database and Redis).
"""

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "sync"
# A stress test's locust or a slow client can hold a sync worker; past this it is restarted.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
keepalive = 2
accesslog = None
# Application logs go to stderr through Django's LOGGING; gunicorn's own to the same stream.
errorlog = "-"


def child_exit(server, worker):
    """Drop an exited worker's live gauges from the Prometheus multiprocess directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
