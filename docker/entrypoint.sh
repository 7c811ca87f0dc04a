#!/bin/sh
# Entry point of the forum image: the first argument is the role this container plays.
#
#   web                 HTTP server: gunicorn, config.wsgi (docker/servers/gunicorn.conf.py), PORT 8000
#   ws                  WebSocket server: uvicorn, config.asgi, PORT 8001 (nginx sends it /ws/ only)
#   worker              celery worker on every queue a task is routed to (or WORKER_QUEUES)
#   beat                celery beat; exactly one per deployment, or periodic tasks run twice
#   migrate             one-shot release step: migrations, the S3 bucket, static files for nginx
#   healthcheck [ROLE]  exit 0 when the role running in this container is healthy
#   manage ARGS...      python manage.py ARGS...
#   anything else       run as given (docker run --rm -it IMAGE bash)
#
# Extra arguments after a role go to its server. Variables read here, besides the settings' own:
# PORT, FORWARDED_ALLOW_IPS, GRACEFUL_TIMEOUT, UVICORN_WORKERS, WORKER_QUEUES, WORKER_CONCURRENCY,
# WORKER_MAX_TASKS_PER_CHILD, STATIC_EXPORT_DIR, PROMETHEUS_MULTIPROC_DIR.
set -eu

APP_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$APP_DIR"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings}"

# The role of the running container, for a HEALTHCHECK that is given no argument.
ROLE_FILE=/tmp/forum-role

log() {
    printf 'entrypoint: %s\n' "$*" >&2
}

log_level() {
    printf '%s' "${LOG_LEVEL:-INFO}" | tr '[:upper:]' '[:lower:]'
}

remember_role() {
    printf '%s\n' "$1" >"$ROLE_FILE" 2>/dev/null || log "cannot write $ROLE_FILE; the image HEALTHCHECK needs it"
}

# Every queue a registered task is routed to (forum.bus.route_task: one queue per app), plus the
# default queue, so that a new app's handlers are consumed without touching this file.
worker_queues() {
    if [ -n "${WORKER_QUEUES:-}" ]; then
        printf '%s' "$WORKER_QUEUES"
        return
    fi
    python - <<'PY'
import django

django.setup()

from django.conf import settings

from config.celery import app
from forum.bus import queue_for

app.loader.import_default_modules()
queues = {settings.CELERY_TASK_DEFAULT_QUEUE}
queues.update(queue_for(name) for name in app.tasks if not name.startswith("celery."))
print(",".join(sorted(queues)))
PY
}

# The buckets of S3_BUCKET and S3_PRIVATE_BUCKET (attachments; the same one unless set) on
# S3_ENDPOINT_URL (SeaweedFS in docker/compose.yaml), created when absent.
ensure_bucket() {
    python - <<'PY'
import sys

import django

django.setup()

import boto3
from botocore.exceptions import ClientError
from django.conf import settings

if not settings.AWS_S3_ENDPOINT_URL:
    sys.exit(0)  # files on local disk (MEDIA_ROOT, PRIVATE_MEDIA_ROOT)
region = settings.AWS_S3_REGION_NAME
client = boto3.client(
    "s3",
    endpoint_url=settings.AWS_S3_ENDPOINT_URL,
    aws_access_key_id=settings.AWS_ACCESS_KEY_ID or None,
    aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY or None,
    region_name=region,
)
for bucket in dict.fromkeys((settings.AWS_STORAGE_BUCKET_NAME, settings.S3_PRIVATE_BUCKET)):
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status != 404:
            # 403: the credentials may write objects without being allowed to look at the bucket.
            print(f"entrypoint: cannot check bucket {bucket!r} ({error}); leaving it as it is", file=sys.stderr)
            continue
        options = {} if region in ("", "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client.create_bucket(Bucket=bucket, **options)
        print(f"entrypoint: created bucket {bucket!r}", file=sys.stderr)
PY
}

# nginx serves /static/ from a volume. The image holds this build's files; copying them over the
# volume (never deleting) keeps the previous release's hashed files for pages rendered before it.
publish_static() {
    if [ -z "${STATIC_EXPORT_DIR:-}" ]; then
        return
    fi
    log "copying static files to $STATIC_EXPORT_DIR"
    cp -R --preserve=timestamps "${STATIC_ROOT:-$APP_DIR/staticfiles}/." "$STATIC_EXPORT_DIR/"
}

# GET /health/ready of the server on this port, as nginx would send it: Host must be one of
# ALLOWED_HOSTS, or Django answers 400.
probe_http() {
    python - "$1" <<'PY'
import os
import sys
import urllib.request

port = sys.argv[1]
hosts = [host.strip() for host in os.environ.get("ALLOWED_HOSTS", "").split(",")]
hosts = [host.lstrip(".") for host in hosts if host and host != "*"]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/health/ready",
    headers={"Host": hosts[0] if hosts else "localhost", "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a fixed local URL
        healthy = response.status == 200
except Exception as error:  # noqa: BLE001 - any failure means unhealthy
    print(f"unhealthy: {error}", file=sys.stderr)
    sys.exit(1)
sys.exit(0 if healthy else 1)
PY
}

# prometheus_client's multiprocess mode keeps one file per server process: only this start's count.
prepare_metrics_dir() {
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
        mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -type f -name '*.db' -delete
    fi
}

# celery inspect ping exits non-zero when the node does not answer; beat answers only while its
# scheduler keeps ticking (--enable-remote-control).
probe_celery_node() {
    celery -A config inspect ping --destination "$1@$(uname -n)" --timeout 10 >/dev/null
}

healthcheck() {
    role=${1:-}
    if [ -z "$role" ]; then
        role=$(cat "$ROLE_FILE" 2>/dev/null) || {
            log "no role recorded yet"
            exit 1
        }
    fi
    case "$role" in
        web) probe_http "${PORT:-8000}" ;;
        ws) probe_http "${PORT:-8001}" ;;
        worker) probe_celery_node celery ;;
        beat) probe_celery_node celerybeat ;;
        *) exit 0 ;;  # one-shot steps and ad hoc commands have nothing to probe
    esac
}

role=${1:-web}
if [ $# -gt 0 ]; then
    shift
fi

case "$role" in
    web)
        remember_role web
        prepare_metrics_dir
        # Workers, timeouts and graceful shutdown are set in the config file, from the environment.
        exec gunicorn --config docker/servers/gunicorn.conf.py "$@"
        ;;
    ws)
        remember_role ws
        # Consumers reach the database from threads: without the pool each opens its own connection.
        export DATABASE_POOL="${DATABASE_POOL:-1}"
        prepare_metrics_dir
        # Django has no lifespan protocol; WebSockets are pinged every 20 s (uvicorn's default),
        # which keeps idle connections open through nginx's read timeout.
        exec uvicorn config.asgi:application \
            --host 0.0.0.0 \
            --port "${PORT:-8001}" \
            --workers "${UVICORN_WORKERS:-1}" \
            --lifespan off \
            --proxy-headers \
            --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
            --timeout-graceful-shutdown "${GRACEFUL_TIMEOUT:-25}" \
            --no-server-header \
            --no-access-log \
            --log-level "$(log_level)" \
            "$@"
        ;;
    worker)
        remember_role worker
        queues=$(worker_queues)
        log "worker consumes queues: $queues"
        if [ -n "${WORKER_MAX_TASKS_PER_CHILD:-}" ]; then
            set -- --max-tasks-per-child "$WORKER_MAX_TASKS_PER_CHILD" "$@"
        fi
        if [ -n "${WORKER_CONCURRENCY:-}" ]; then
            set -- --concurrency "$WORKER_CONCURRENCY" "$@"
        fi
        # SIGTERM is a warm shutdown: running tasks finish; late acknowledgement hands back the rest.
        exec celery -A config worker \
            --loglevel "$(log_level)" \
            --hostname "celery@%h" \
            --queues "$queues" \
            --without-gossip \
            "$@"
        ;;
    beat)
        remember_role beat
        # The schedule's state is disposable: after a restart every entry simply runs once more.
        exec celery -A config beat \
            --loglevel "$(log_level)" \
            --schedule /tmp/celerybeat-schedule \
            --enable-remote-control \
            --hostname "celerybeat@%h" \
            "$@"
        ;;
    migrate)
        remember_role migrate
        python manage.py migrate --noinput "$@"
        ensure_bucket
        publish_static
        log "release step done"
        ;;
    healthcheck)
        healthcheck "$@"
        ;;
    manage)
        remember_role manage
        exec python manage.py "$@"
        ;;
    *)
        if command -v "$role" >/dev/null 2>&1; then
            remember_role command
            exec "$role" "$@"
        fi
        log "unknown role or command: $role (roles: web, ws, worker, beat, migrate, healthcheck, manage)"
        exit 64
        ;;
esac
