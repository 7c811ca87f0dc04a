"""Gunicorn settings of the HTTP server (WSGI, ``config.wsgi``), read from the environment.

Chosen by measurement (docs/server-choice.md): sync workers, one request at a time per process, so
one persistent PostgreSQL connection per worker. nginx sends ``/ws/`` to uvicorn (the image's ``ws``
role, docker/entrypoint.sh) and everything else here. Run with
``gunicorn -c docker/servers/gunicorn.conf.py``.

Variables: PORT or GUNICORN_BIND, WEB_CONCURRENCY (workers), GUNICORN_THREADS (above 1 switches to
gthread), GRACEFUL_TIMEOUT, GUNICORN_TIMEOUT, GUNICORN_MAX_REQUESTS, FORWARDED_ALLOW_IPS, LOG_LEVEL,
LOG_FORMAT.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

wsgi_app = "config.wsgi:application"

bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"]

# Two sync workers per core: on 2 cores the benchmark measured the same throughput with 4 workers as
# with 2, and a 40% lower p99 when some requests wait on another service (docs/server-choice.md).
# Each worker holds one PostgreSQL connection.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"

# SIGTERM: stop accepting, let each worker finish the request in hand, then exit 0. Requests still
# running after this many seconds are cut off (give the container a longer stop period than this).
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "25"))
# A worker silent for longer than this (a request stuck in a loop or on a dead socket) is killed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# nginx keeps connections to us alive only for gthread workers; sync workers close after each.
keepalive = 5

# Recycle workers now and then so that a slow leak cannot grow without bound (0 turns it off).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

# Only nginx in front of us may set X-Forwarded-* (Django reads X-Forwarded-Proto itself).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The heartbeat file lives in memory: on a container's overlay filesystem a slow write can get a
# healthy worker killed.
SHARED_MEMORY = "/dev/shm"  # noqa: S108
worker_tmp_dir = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None


# The application writes one JSON line per request (forum.request_context.AccessLogMiddleware).
accesslog = None


class ApplicationLogsRequests(Logger):
    """Gunicorn's logger without its access line: the application writes its own. (With a logging
    configuration given, gunicorn otherwise formats every request's line, about 30 microseconds of the
    worker's CPU, only for its "gunicorn.access" logger to drop it.)"""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = ApplicationLogsRequests
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# The control socket (gunicornc) is not used; it would also make two servers on one host share a path.
control_socket_disable = True

if os.environ.get("LOG_FORMAT", "json") == "json":
    # Gunicorn's own lines (boot, worker exits, timeouts) in the same JSON shape as the application's.
    logconfig_dict: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        "root": {"level": loglevel.upper(), "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["console"], "propagate": False},
        },
    }
