"""All settings of the forum, read from the environment in this one module.

Profiles (``FORUM_ENV``): ``development`` (the default, what ``make run`` uses), ``test`` (what
``make test`` uses) and ``production`` (refuses to start with insecure defaults). With nothing set,
the addresses point at the embedded PostgreSQL and Redis that ``make run`` starts (their addresses are
written by the launcher to ``.data/embedded.env``); every part is still a real server.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("FORUM_DATA_DIR", BASE_DIR / ".data"))

env = environ.Env()

FORUM_ENV = env.str("FORUM_ENV", default="development")
if FORUM_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"FORUM_ENV must be development, test or production, not {FORUM_ENV!r}")
PRODUCTION = FORUM_ENV == "production"
TESTING = FORUM_ENV == "test"

# The launcher of the embedded stack writes the addresses it started; variables already in the
# environment win over the file (read_env never overrides them).
EMBEDDED_ENV_FILE = DATA_DIR / "embedded.env"
if not PRODUCTION and not TESTING and EMBEDDED_ENV_FILE.exists():
    environ.Env.read_env(str(EMBEDDED_ENV_FILE))

# Known to everyone on purpose: the production profile refuses to start with it.
INSECURE_SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
# Keyed into every password before bcrypt (apps/authentication/hashers.py) and never stored with the
# hashes, so that a stolen database alone cannot be cracked; changing it invalidates every password.
INSECURE_PASSWORD_PEPPER = "insecure-development-pepper-never-use-in-production"  # noqa: S105
PASSWORD_PEPPER = env.str("PASSWORD_PEPPER", default=INSECURE_PASSWORD_PEPPER)
# Service-to-service calls under /internal/ (forum/internal_auth.py): "id:secret,id2:secret2", every key
# accepted, so a key is rotated by adding the new one everywhere, signing with it, then removing the old.
INSECURE_INTERNAL_API_SECRET = "insecure-development-internal-secret-never-use-in-production"  # noqa: S105
INTERNAL_API_SECRETS: dict[str, str] = {}
for _entry in env.list(
    "INTERNAL_API_SECRETS", default=[] if PRODUCTION else [f"dev:{INSECURE_INTERNAL_API_SECRET}"]
):
    _key_id, _colon, _secret = _entry.strip().partition(":")
    if not _key_id or not _secret or _key_id in INTERNAL_API_SECRETS:
        raise ImproperlyConfigured("INTERNAL_API_SECRETS is a list of id:secret with distinct ids")
    INTERNAL_API_SECRETS[_key_id] = _secret
# The key outgoing internal calls are signed with; the first one listed unless named.
INTERNAL_API_SIGNING_KEY_ID = env.str(
    "INTERNAL_API_SIGNING_KEY_ID", default=next(iter(INTERNAL_API_SECRETS), "")
)
if INTERNAL_API_SECRETS and INTERNAL_API_SIGNING_KEY_ID not in INTERNAL_API_SECRETS:
    raise ImproperlyConfigured("INTERNAL_API_SIGNING_KEY_ID names no key of INTERNAL_API_SECRETS")
# How far a signed call's timestamp may be from this server's clock; nonces are kept twice as long.
INTERNAL_API_MAX_SKEW = env.int("INTERNAL_API_MAX_SKEW", default=300)
if INTERNAL_API_MAX_SKEW <= 0:
    raise ImproperlyConfigured("INTERNAL_API_MAX_SKEW must be a positive number of seconds")
DEBUG = env.bool("DEBUG", default=not PRODUCTION and not TESTING)
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION:
    _problems = []
    if DEBUG:
        _problems.append("DEBUG is on")
    if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 50:
        _problems.append("SECRET_KEY is missing, the development default, or shorter than 50 characters")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        _problems.append("ALLOWED_HOSTS is empty or a wildcard")
    if PASSWORD_PEPPER == INSECURE_PASSWORD_PEPPER or len(PASSWORD_PEPPER) < 32:
        _problems.append("PASSWORD_PEPPER is missing, the development default, or shorter than 32 characters")
    if not INTERNAL_API_SECRETS or any(
        secret == INSECURE_INTERNAL_API_SECRET or len(secret) < 32 for secret in INTERNAL_API_SECRETS.values()
    ):
        _problems.append(
            "INTERNAL_API_SECRETS is missing, the development default, or has a secret under 32 characters"
        )
    if _problems:
        raise ImproperlyConfigured(
            "Refusing to start the production profile with insecure settings: " + "; ".join(_problems)
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # TOTP and backup-code devices of two-factor sign-in (apps/authentication/two_factor.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "forum",
    "apps.authentication",
    "apps.authorization",
    "apps.user",
    "apps.status",
    "apps.thread",
    "apps.dialog",
    "apps.notification",
    "apps.support",
    "apps.admin",
    "apps.payment",
    "apps.frame",
]
INSTALLED_APPS += env.list("FORUM_EXTRA_APPS", default=[])

MIDDLEWARE = [
    "forum.request_context.RequestContextMiddleware",
    # Every error under /api/ in the JSON shape, Django's own DEBUG pages included (forum/errors.py).
    "forum.errors.ApiErrorShapeMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Refuses unsigned calls under /internal/ before any session is loaded (forum/internal_auth.py).
    "forum.internal_auth.InternalSignatureMiddleware",
    # What each request reads of its member (account, permission facts, the header's counts) in one
    # Redis round trip, kept for the request (forum/member_cache.py).
    "forum.member_cache.MemberCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Each member's permissions are loaded at most once per request (apps/authorization/services.py).
    "apps.authorization.middleware.PermissionScopeMiddleware",
    # Records the signed-in session (device, address, last seen) at most once a minute, for the list
    # of sessions a member can end (apps/authorization/sessions.py).
    "apps.authorization.middleware.SessionActivityMiddleware",
    # Writes from banned addresses and networks answer 403 (apps/admin/middleware.py); no query in the
    # common case (the lists are kept per process).
    "apps.admin.middleware.AddressBanMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # API writes sent with an Idempotency-Key run once per key and member; retries get the first answer
    # (forum/idempotency.py). After authentication: keys belong to the caller.
    "forum.idempotency.IdempotencyMiddleware",
    "forum.errors.ApplicationErrorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "forum.request_context.AccessLogMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = env.str("FORUM_ROOT_URLCONF", default="config.urls")
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "forum.context_processors.forum",
                # The unread-dialogs badge of the header, counted only when a page shows it.
                "apps.dialog.context_processors.dialogs",
                # The header's notification count, likewise.
                "apps.notification.context_processors.notifications",
                # The ban notice under the header: a query only for a banned member.
                "apps.admin.context_processors.ban_notice",
                # The moderation queue's count in the staff header: no query for anyone else.
                "apps.admin.context_processors.moderation_queue",
            ],
        },
    },
    # Per-row partials of hot pages (forum/fragments.py): rendered only by name with
    # render_fragment(), never found by get_template() for a Django page (the engine above is first).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "forum.fragments.environment"},
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/forum")
_database = env.db_url_config(DATABASE_URL)
# Django's PostgreSQL backend with query metrics and a health check without a round trip.
_database["ENGINE"] = "forum.database"
_database["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
_database["CONN_HEALTH_CHECKS"] = True
_database.setdefault("OPTIONS", {})
_database["OPTIONS"]["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
if env.bool("DATABASE_POOL", default=False):
    # A pool per process, for ASGI servers where persistent connections per thread would
    # exhaust PostgreSQL's connection limit (see docs/architecture.md, "Production server").
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_SIZE", default=8),
        "timeout": 10,
    }
# The test database's name; the test plugin makes it unique per run so that runs never collide.
_database["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="") or None}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Channels layer ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="forum")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
# Guests' pages are kept this long at most (forum/pagecache.py), and dropped at once when what they
# show changes; 0 turns the cache off. Off by default in the test profile: tests share Redis and
# their databases roll back without telling the cache (the page cache's own tests turn it on).
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=0 if FORUM_ENV == "test" else 300)
# Parts of members' pages built once per permission set and language are kept this long at most
# (forum/versioned_cache.py), and dropped at once when their app's version moves; 0 turns it off
# (the default in the test profile, for the page cache's reasons; its own tests turn it on).
KEPT_PARTS_SECONDS = env.int("KEPT_PARTS_SECONDS", default=0 if FORUM_ENV == "test" else 300)
# After a Redis call fails, a process skips Redis for this long (throttles use their in-process
# counters, live sends are dropped, guests' pages are rendered): an outage costs one timeout per
# interval, not one per call (forum/outage.py).
REDIS_OUTAGE_SKIP_SECONDS = env.float("REDIS_OUTAGE_SKIP_SECONDS", default=5.0)
# The Channels layer under the real-time gateway: "pubsub" (Redis pub/sub, forum/realtime/layer.py:
# at most once, one PUBLISH a send) or "lists" (channels-redis's list-based layer: per-channel
# queues, ~4 round trips a send); docs/realtime.md, "Channel layer", weighs the two.
REALTIME_LAYER = env.str("REALTIME_LAYER", default="pubsub")
_REALTIME_LAYER_BACKENDS = {
    "pubsub": "forum.realtime.layer.PubSubChannelLayer",
    "lists": "channels_redis.core.RedisChannelLayer",
}
if REALTIME_LAYER not in _REALTIME_LAYER_BACKENDS:
    raise ImproperlyConfigured(f"REALTIME_LAYER must be one of {', '.join(_REALTIME_LAYER_BACKENDS)}")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _REALTIME_LAYER_BACKENDS[REALTIME_LAYER],
        "CONFIG": {
            # No read timeout, as before redis-py 8 (whose default is 5 s): with the list-based
            # layer a timeout races its 5 s blocking pop, killing idle WebSockets, and on Python 3.11
            # a pending read under a timeout can swallow the cancel of a closed socket's consumer
            # (docs/realtime.md); the pub/sub layer's subscriber polls with its own 0.1 s timeout.
            # A connect timeout, though: without one a Redis host that went away makes every send
            # wait for the kernel's (minutes) before delivery gives up (docs/architecture.md).
            "hosts": [{"address": REDIS_URL, "socket_timeout": None, "socket_connect_timeout": 2}],
            "prefix": f"{REDIS_KEY_PREFIX}:asgi",
            # The list-based layer's own (the pub/sub layer has no per-channel queue in Redis).
            **({"capacity": 1000, "expiry": 60} if REALTIME_LAYER == "lists" else {}),
        },
    }
}

# --- Celery ----------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
# At-least-once delivery: a task is acknowledged only after it ran, and a worker that dies
# mid-task gives the task back to the broker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ROUTES = ("forum.bus.route_task",)
# Queue names get this prefix, so that several test runs can share one broker.
FORUM_QUEUE_PREFIX = env.str("FORUM_QUEUE_PREFIX", default="")
CELERY_TASK_DEFAULT_QUEUE = f"{FORUM_QUEUE_PREFIX}forum"
# Seconds after which an unused queue is deleted by RabbitMQ (test runs set it; production does not).
CELERY_TASK_QUEUE_EXPIRES = env.float("CELERY_QUEUE_EXPIRES", default=None)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    # Publisher confirms: a send returns only once RabbitMQ has the message, so the outbox never marks
    # an event as sent that a dying connection swallowed.
    CELERY_BROKER_TRANSPORT_OPTIONS["confirm_publish"] = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connections before and after every task unless this
# is set: a new PostgreSQL connection (a backend process forked) for each event handled. With it,
# connections are reused as CONN_MAX_AGE says (forum.celery_db closes broken or old ones around each
# task, as Django does around a request) and are made again every this many tasks anyway.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ALWAYS_EAGER = False
# Event handlers: retried with exponential backoff (this many seconds, doubled each time).
EVENT_HANDLER_MAX_RETRIES = env.int("EVENT_HANDLER_MAX_RETRIES", default=8)
EVENT_HANDLER_RETRY_BACKOFF = env.int("EVENT_HANDLER_RETRY_BACKOFF", default=2)

# Event bus: how often the sweep resends what was left behind, how old a row must be before the
# sweep takes it (so that it does not race the on-commit send), and how long delivered rows stay.
OUTBOX_SWEEP_INTERVAL = env.float("OUTBOX_SWEEP_INTERVAL", default=10.0)
OUTBOX_SWEEP_MIN_AGE = env.float("OUTBOX_SWEEP_MIN_AGE", default=5.0)
OUTBOX_RETENTION_DAYS = env.float("OUTBOX_RETENTION_DAYS", default=7.0)
# The send after commit runs in the request: each of its blocking steps (connect, handshake, declare,
# publish, publisher confirm) waits at most this long, with no retry, and what is not sent is left to
# the sweep (forum/bus.py, docs/architecture.md "When the broker is down"). The test profile waits
# longer: no beat runs the sweep there, so a send that a loaded machine made slow would be lost to the
# test that waits for its delivery.
OUTBOX_SEND_TIMEOUT_SECONDS = env.float("OUTBOX_SEND_TIMEOUT_SECONDS", default=2.0 if TESTING else 0.5)
# Where that send runs: "background", a thread of each process that the request hands the committed
# rows to (the answer does not wait for the broker), or "inline", in the request before it answers.
# The test profile sends inline, so that a test sees the row dispatched when its write returns.
OUTBOX_SEND_MODE = env.str("OUTBOX_SEND_MODE", default="inline" if TESTING else "background")
if OUTBOX_SEND_MODE not in {"inline", "background"}:
    raise ImproperlyConfigured(f"OUTBOX_SEND_MODE must be inline or background, not {OUTBOX_SEND_MODE!r}")
# How many committed rows the background sender of one process holds; more are left to the sweep.
OUTBOX_SEND_QUEUE_SIZE = env.int("OUTBOX_SEND_QUEUE_SIZE", default=10000)
# The sweep runs in a worker, off any request's path: its sends may wait longer.
OUTBOX_SWEEP_SEND_TIMEOUT_SECONDS = env.float("OUTBOX_SWEEP_SEND_TIMEOUT_SECONDS", default=5.0)
# After a send after commit fails, a process leaves its events to the sweep for this long.
OUTBOX_BROKER_SKIP_SECONDS = env.float("OUTBOX_BROKER_SKIP_SECONDS", default=5.0)
if OUTBOX_SEND_TIMEOUT_SECONDS <= 0 or OUTBOX_SWEEP_SEND_TIMEOUT_SECONDS <= 0:
    raise ImproperlyConfigured(
        "OUTBOX_SEND_TIMEOUT_SECONDS and OUTBOX_SWEEP_SEND_TIMEOUT_SECONDS must be positive"
    )
CELERY_BEAT_SCHEDULE = {
    "forum.sweep_outbox": {"task": "forum.sweep_outbox", "schedule": OUTBOX_SWEEP_INTERVAL},
    "forum.prune_outbox": {"task": "forum.prune_outbox", "schedule": 3600.0},
    # Idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS go.
    "forum.prune_idempotency_keys": {"task": "forum.prune_idempotency_keys", "schedule": 3600.0},
    # Status grants whose end has passed become expired, with a status.expired event each.
    "status.expire_grants": {"task": "status.expire_grants", "schedule": 60.0},
    # Statuses given automatically are granted and taken back by their rules, once a day (and on events).
    "status.evaluate_rules": {"task": "status.evaluate_rules", "schedule": 86400.0},
    # Dialog messages whose scheduled "was it seen?" check was lost are checked (apps/notification).
    "notification.dialog_notices_sweep": {"task": "notification.dialog_notices_sweep", "schedule": 60.0},
    # Members whose status ends within NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS are warned, once a grant.
    "notification.warn_expiring_statuses": {
        "task": "notification.warn_expiring_statuses",
        "schedule": 3600.0,
    },
    # Daily digests, once a member and day, from NOTIFICATION_DIGEST_HOUR (UTC) on.
    "notification.send_digests": {"task": "notification.send_digests", "schedule": 3600.0},
    # Uploads no post took within THREAD_UPLOAD_ORPHAN_HOURS go, with their files.
    "thread.delete_orphan_uploads": {"task": "thread.delete_orphan_uploads", "schedule": 3600.0},
    # Uploads no dialog message took within DIALOG_UPLOAD_ORPHAN_HOURS go, with their files.
    "dialog.delete_orphan_uploads": {"task": "dialog.delete_orphan_uploads", "schedule": 3600.0},
    # Drafts of replies and threads untouched for THREAD_DRAFT_MAX_AGE_DAYS go.
    "thread.delete_stale_drafts": {"task": "thread.delete_stale_drafts", "schedule": 3600.0},
    # Tickets resolved SUPPORT_REOPEN_DAYS ago close; uploads no ticket message took go.
    "support.close_resolved_tickets": {"task": "support.close_resolved_tickets", "schedule": 3600.0},
    "support.delete_orphan_uploads": {"task": "support.delete_orphan_uploads", "schedule": 3600.0},
    # Warnings past their end are marked expired; escalations' sanctions past their end are lifted.
    "forum_admin.expire_warnings": {"task": "forum_admin.expire_warnings", "schedule": 60.0},
    # Threads held for premoderation publish nothing: the staff header's count learns of them here.
    "forum_admin.refresh_queue_count": {"task": "forum_admin.refresh_queue_count", "schedule": 30.0},
    "forum_admin.end_restrictions": {"task": "forum_admin.end_restrictions", "schedule": 60.0},
}

# --- Storage and search ----------------------------------------------------------------------------
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
AWS_S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="")
AWS_STORAGE_BUCKET_NAME = env.str("S3_BUCKET", default="forum")
AWS_ACCESS_KEY_ID = env.str("S3_ACCESS_KEY_ID", default="")
AWS_SECRET_ACCESS_KEY = env.str("S3_SECRET_ACCESS_KEY", default="")
AWS_S3_REGION_NAME = env.str("S3_REGION", default="us-east-1")
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
# Files that only a view serves, after its permission check (attachments of posts and dialogs, and
# their thumbnails: forum/uploads.py, docs/uploads.md). They live where no static or media route
# reaches them, whatever a path's spelling: on local disk a root of their own beside MEDIA_ROOT, on
# S3 a bucket of their own or at least a prefix that is never made public, written with a private ACL.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(DATA_DIR / "private")))
S3_PRIVATE_BUCKET = env.str("S3_PRIVATE_BUCKET", default="") or AWS_STORAGE_BUCKET_NAME
S3_PRIVATE_PREFIX = env.str("S3_PRIVATE_PREFIX", default="private").strip("/")
# Empty: no ACL is sent (buckets whose ACLs are turned off refuse any other than the owner's).
S3_PRIVATE_ACL = env.str("S3_PRIVATE_ACL", default="private")


def _nested(first: Path, second: Path) -> bool:
    """Whether one folder is the other or inside it (a public route would then reach private files)."""
    first, second = first.resolve(), second.resolve()
    return first == second or first in second.parents or second in first.parents


if AWS_S3_ENDPOINT_URL:
    if S3_PRIVATE_BUCKET == AWS_STORAGE_BUCKET_NAME and not S3_PRIVATE_PREFIX:
        raise ImproperlyConfigured(
            "Private uploads need S3_PRIVATE_BUCKET (a bucket of their own) or S3_PRIVATE_PREFIX (a "
            "prefix of S3_BUCKET that is never made public)"
        )
else:
    for _name, _public in (
        ("MEDIA_ROOT", MEDIA_ROOT),
        ("STATIC_ROOT", STATIC_ROOT),
        *(("STATICFILES_DIRS", Path(_folder)) for _folder in STATICFILES_DIRS),
    ):
        if _nested(PRIVATE_MEDIA_ROOT, _public):
            raise ImproperlyConfigured(
                f"PRIVATE_MEDIA_ROOT ({PRIVATE_MEDIA_ROOT}) and {_name} ({_public}) overlap: files a "
                f"public route serves would reach private uploads. Give PRIVATE_MEDIA_ROOT a folder of "
                f"its own, outside every public one."
            )
STORAGES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if AWS_S3_ENDPOINT_URL
        else "django.core.files.storage.FileSystemStorage"
    },
    "private": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_PRIVATE_BUCKET,
            "location": S3_PRIVATE_PREFIX,
            "default_acl": S3_PRIVATE_ACL or None,
            "querystring_auth": True,
        },
    }
    if AWS_S3_ENDPOINT_URL
    else {
        "BACKEND": "forum.uploads.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)},
    },
    # Django's and whitenoise's storages, with each path's URL kept once computed (forum/static_urls.py).
    "staticfiles": {
        "BACKEND": "forum.static_urls.PlainStorage"
        if DEBUG or TESTING
        else "forum.static_urls.ManifestStorage"
    },
}
# Attachments (forum/uploads.py, docs/uploads.md): limits checked on the content, not the name.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# Decoding costs about 4 bytes a pixel: 50 megapixels is a phone's full-resolution photo, ~200 MB.
UPLOAD_IMAGE_MAX_PIXELS = env.int("UPLOAD_IMAGE_MAX_PIXELS", default=50_000_000)
UPLOAD_THUMBNAIL_SIZE = env.int("UPLOAD_THUMBNAIL_SIZE", default=320)
UPLOAD_ALLOWED_TYPES: list[str] = env.list(
    "UPLOAD_ALLOWED_TYPES",
    default=[
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
        "application/zip",
        "text/plain",
    ],
)
MEILISEARCH_URL = env.str("MEILISEARCH_URL", default="")
MEILISEARCH_API_KEY = env.str("MEILISEARCH_API_KEY", default="")
# Meilisearch (docs/search.md): the prefix of the index's name (forums sharing a server), how long one
# request may take (seconds), and how long a write waits for the server to apply it.
MEILISEARCH_INDEX_PREFIX = env.str("MEILISEARCH_INDEX_PREFIX", default="forum_")
MEILISEARCH_TIMEOUT_SECONDS = env.int("MEILISEARCH_TIMEOUT_SECONDS", default=3)
MEILISEARCH_TASK_TIMEOUT_SECONDS = env.int("MEILISEARCH_TASK_TIMEOUT_SECONDS", default=30)
# The test profile keeps PostgreSQL even with MEILISEARCH_URL set (CI sets it for the Meilisearch
# backend's own tests, which use an index of their own): the other tests roll their database back
# after each test, and an index on another server would not follow.
SEARCH_BACKEND = "meilisearch" if MEILISEARCH_URL and not TESTING else "postgres"
# The same search asked again with the same reading rights is answered from what the last one found,
# until the index's next write (forum/search/service.py; PostgreSQL only). Off: every search runs (the
# benchmark measures both).
SEARCH_KEEP_RESULTS = env.bool("SEARCH_KEEP_RESULTS", default=True)
# The PostgreSQL backend's statements prepared once per connection and run with one generic plan
# (forum/search/postgres.py): no planning per search. Off behind PgBouncer in transaction mode.
SEARCH_PREPARED_STATEMENTS = env.bool("SEARCH_PREPARED_STATEMENTS", default=True)

# --- Email -----------------------------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
vars().update(env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="forum@localhost")

# --- Auth ------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "authentication.User"
LOGIN_URL = "/accounts/signin/"
LOGIN_REDIRECT_URL = "/"
# Sign-in by username or email, throttled (apps/authentication/backends.py), for the admin's login too.
AUTHENTICATION_BACKENDS = ["apps.authentication.backends.CredentialsBackend"]
# Peppered bcrypt first; the others only verify old hashes, which are upgraded at the next sign-in.
PASSWORD_HASHERS = [
    "apps.authentication.hashers.PepperedBCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# bcrypt's cost (log2 of its rounds); the tests use the minimum, which is fast and still real bcrypt.
BCRYPT_ROUNDS = env.int("BCRYPT_ROUNDS", default=4 if TESTING else 12)
# Two-factor codes are limited by Redis counters per sign-in challenge and per account
# (apps/authentication/throttles.py); django-otp's own per-device delays are off, since they would
# refuse a right code typed within seconds of a wrong one, with no way to say how long to wait.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# A browser that completed a sign-in gets a signed device cookie (apps/authentication/devices.py): with
# it, its owner can still sign in while strangers' failures lock the account for everyone else. HttpOnly,
# SameSite=Lax, and Secure in production, like the session's cookie.
SIGNIN_DEVICE_COOKIE_NAME = env.str("SIGNIN_DEVICE_COOKIE_NAME", default="signin_device")
SIGNIN_DEVICE_COOKIE_DAYS = env.int("SIGNIN_DEVICE_COOKIE_DAYS", default=180)
if SIGNIN_DEVICE_COOKIE_DAYS <= 0:
    raise ImproperlyConfigured("SIGNIN_DEVICE_COOKIE_DAYS must be positive")
SIGNIN_DEVICE_COOKIE_SECURE = PRODUCTION
# Where links in emails point (https://forum.example.com); empty: the address the request came to.
FORUM_BASE_URL = env.str("FORUM_BASE_URL", default="")
# Proxies (nginx) whose X-Forwarded-For names the client, for per-address limits such as sign-in's.
TRUSTED_PROXY_NETWORKS: list[str] = env.list("TRUSTED_PROXY_NETWORKS", default=[])
# Password of the demo account `admin` that `manage.py seed_demo` creates; empty: a random one, printed once.
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation --------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Threads ---------------------------------------------------------------------------------------
# How long members may edit or delete their own posts; moderators may at any time.
THREAD_POST_EDIT_WINDOW_MINUTES = env.int("THREAD_POST_EDIT_WINDOW_MINUTES", default=30)
# Threads without a post for this many days count as read for everyone (no "new"/"unread" markers).
THREAD_UNREAD_DAYS = env.int("THREAD_UNREAD_DAYS", default=30)
# Uploads that no post took within this many hours are deleted, files too (thread.delete_orphan_uploads).
THREAD_UPLOAD_ORPHAN_HOURS = env.float("THREAD_UPLOAD_ORPHAN_HOURS", default=24.0)
# Drafts of replies and new threads untouched this many days are deleted (thread.delete_stale_drafts).
THREAD_DRAFT_MAX_AGE_DAYS = env.float("THREAD_DRAFT_MAX_AGE_DAYS", default=30.0)
# Previews of a post or message being written (the composer's Preview tab) per member and minute,
# posts and dialogs together (forum/ratelimit.py); 0 turns the limit off.
MARKUP_PREVIEW_PER_MINUTE = env.int("MARKUP_PREVIEW_PER_MINUTE", default=60)
# The kinds of reaction a post may get, in the order the page shows them.
THREAD_REACTION_KINDS: list[str] = env.list(
    "THREAD_REACTION_KINDS", default=["like", "love", "haha", "wow", "sad", "angry"]
)

# --- Dialogs ---------------------------------------------------------------------------------------
# How long members may edit or delete their own dialog messages.
DIALOG_MESSAGE_EDIT_WINDOW_MINUTES = env.int("DIALOG_MESSAGE_EDIT_WINDOW_MINUTES", default=15)
# Uploads that no dialog message took within this many hours are deleted (dialog.delete_orphan_uploads).
DIALOG_UPLOAD_ORPHAN_HOURS = env.float("DIALOG_UPLOAD_ORPHAN_HOURS", default=24.0)

# --- Support ---------------------------------------------------------------------------------------
# A member's reply within this many days of a ticket's resolution reopens it; after that it closes
# (support.close_resolved_tickets, hourly) and a new ticket is needed.
SUPPORT_REOPEN_DAYS = env.float("SUPPORT_REOPEN_DAYS", default=7.0)
# Uploads that no ticket message took within this many hours are deleted (support.delete_orphan_uploads).
SUPPORT_UPLOAD_ORPHAN_HOURS = env.float("SUPPORT_UPLOAD_ORPHAN_HOURS", default=24.0)

# --- Notifications ---------------------------------------------------------------------------------
# A dialog message is notified only if its recipient has not seen it this many seconds later.
NOTIFICATION_DIALOG_DELAY_SECONDS = env.float("NOTIFICATION_DIALOG_DELAY_SECONDS", default=10.0)
# A timed status bought again within this many days after its end starts from that end (continuity).
STATUS_RENEWAL_GRACE_DAYS = env.int("STATUS_RENEWAL_GRACE_DAYS", default=7)
# A status given automatically is taken back this many days after its rules stopped holding.
STATUS_AUTOMATIC_GRACE_DAYS = env.int("STATUS_AUTOMATIC_GRACE_DAYS", default=7)
# Members are warned this many hours before a status they hold ends (once a grant).
NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS = env.float("NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS", default=72.0)
# The hour (UTC) from which each day's digest emails go.
NOTIFICATION_DIGEST_HOUR = env.int("NOTIFICATION_DIGEST_HOUR", default=7)
if not 0 <= NOTIFICATION_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured("NOTIFICATION_DIGEST_HOUR must be an hour from 0 to 23")

# --- Payments (apps/payment, docs/payments.md) ----------------------------------------------------
# Invoices are paid in Bitcoin to addresses derived from this watch-only account key (BIP84 native
# segwit: an xpub, zpub, tpub or vpub of m/84'/coin'/account'); the server never holds a private key.
# Empty in production until the operator sets it: then invoices are refused with a clear message.
# Development and tests default to the account key of a fixed development wallet on regtest.
PAYMENT_DEV_XPUB = (
    "zpub6qPnVZ3qQCvBWp3n7szaXGWQSaxR1V2BATdUoEKUZyDLZnaQqR2tZHuek3f2"
    "DeQpN2SB2YU7USZ5UczDM798MLmRcB6BAYJ6GBnddaeeatS"
)
PAYMENT_XPUB = env.str("PAYMENT_XPUB", default="" if PRODUCTION else PAYMENT_DEV_XPUB)
PAYMENT_NETWORK = env.str("PAYMENT_NETWORK", default="bitcoin" if PRODUCTION else "regtest")
if PAYMENT_NETWORK not in {"bitcoin", "testnet", "signet", "regtest"}:
    raise ImproperlyConfigured("PAYMENT_NETWORK must be bitcoin, testnet, signet or regtest")
# The development chain (a regtest chain kept in the database, served as an Esplora API under
# /dev/esplora/, paid into with `manage.py payment_pay`) and the development wallet that pays from a
# seed everyone knows: never in production.
PAYMENT_DEV_CHAIN = env.bool("PAYMENT_DEV_CHAIN", default=not PRODUCTION)
if PRODUCTION and PAYMENT_DEV_CHAIN:
    raise ImproperlyConfigured("PAYMENT_DEV_CHAIN is for development and tests only")
PAYMENT_DEV_WALLET_SEED = "forum development paying wallet" if PAYMENT_DEV_CHAIN else ""
# The Esplora-compatible API the watcher reads (Blockstream's esplora, electrs, mempool.space).
PAYMENT_ESPLORA_URL = env.str(
    "PAYMENT_ESPLORA_URL",
    default="" if PRODUCTION else f"http://127.0.0.1:{env.int('FORUM_HTTP_PORT', default=8000)}/dev/esplora",
).rstrip("/")
PAYMENT_ESPLORA_TIMEOUT_SECONDS = env.float("PAYMENT_ESPLORA_TIMEOUT_SECONDS", default=10.0)
# How often the watcher (payment.watch_invoices, Celery beat) reads the chain for open invoices.
PAYMENT_WATCH_SECONDS = env.float("PAYMENT_WATCH_SECONDS", default=30.0)
# It backs off on its own when the API fails (apps/payment/watcher.py).
CELERY_BEAT_SCHEDULE["payment.watch_invoices"] = {
    "task": "payment.watch_invoices",
    "schedule": PAYMENT_WATCH_SECONDS,
}
# After the API fails, the watcher waits this long, doubled with each failure, up to the maximum.
PAYMENT_BACKOFF_SECONDS = env.float("PAYMENT_BACKOFF_SECONDS", default=30.0)
PAYMENT_BACKOFF_MAX_SECONDS = env.float("PAYMENT_BACKOFF_MAX_SECONDS", default=900.0)
# /health/ready reports the watcher as behind when its last good read is older than this.
PAYMENT_WATCH_LAG_WARNING_SECONDS = env.float("PAYMENT_WATCH_LAG_WARNING_SECONDS", default=300.0)
# An invoice must be paid within this many minutes; a full payment seen within the grace after that
# still settles (flagged late); later ones are left to staff.
PAYMENT_INVOICE_EXPIRY_MINUTES = env.float("PAYMENT_INVOICE_EXPIRY_MINUTES", default=30.0)
PAYMENT_LATE_GRACE_MINUTES = env.float("PAYMENT_LATE_GRACE_MINUTES", default=60.0)
# Confirmations needed, by amount: "min_sats:confirmations" pairs; the largest min at or under the
# amount applies. Amounts under PAYMENT_ZERO_CONF_BELOW_SATS (0: never) settle when first seen.
PAYMENT_CONFIRMATIONS: list[tuple[int, int]] = []
for _entry in env.list("PAYMENT_CONFIRMATIONS", default=["0:1", "1000000:2", "10000000:6"]):
    _min_sats, _colon, _confirmations = _entry.strip().partition(":")
    try:
        PAYMENT_CONFIRMATIONS.append((int(_min_sats), int(_confirmations)))
    except ValueError:
        raise ImproperlyConfigured("PAYMENT_CONFIRMATIONS is a list of min_sats:confirmations") from None
PAYMENT_CONFIRMATIONS.sort()
if (
    not PAYMENT_CONFIRMATIONS
    or PAYMENT_CONFIRMATIONS[0][0] != 0
    or any(n < 0 for _m, n in PAYMENT_CONFIRMATIONS)
):
    raise ImproperlyConfigured("PAYMENT_CONFIRMATIONS must start at 0 sats with confirmations of 0 or more")
PAYMENT_ZERO_CONF_BELOW_SATS = env.int("PAYMENT_ZERO_CONF_BELOW_SATS", default=0)
# Wallets stop scanning after this many unused addresses in a row: more unpaid invoices ahead of the
# last paid one than this are reported (/health/ready, the log), since the operator's wallet would
# not see payments to them without a larger gap limit.
PAYMENT_GAP_LIMIT = env.int("PAYMENT_GAP_LIMIT", default=20)
# On-demand checks (a checkout page's "check now", the API's /check) per member a minute: each one is
# two reads of the chain API, which a public Esplora rate-limits in turn (0: no limit).
PAYMENT_CHECKS_PER_MINUTE = env.int("PAYMENT_CHECKS_PER_MINUTE", default=6)
# Fiat prices (docs/payments.md, "Fiat prices"): the currencies products may be priced in (amounts in
# hundredths), and where the rates come from: PAYMENT_RATE_URL (CoinGecko's simple/price or Kraken's
# Ticker JSON), read by the payment.fetch_rates beat task every PAYMENT_RATE_FETCH_SECONDS, or rates
# staff set in the admin. Never read during a request. A rate older than its source's maximum age
# makes no invoice.
PAYMENT_FIAT_CURRENCIES = [
    code.upper() for code in env.list("PAYMENT_FIAT_CURRENCIES", default=["USD", "EUR", "RUB"])
]
PAYMENT_RATE_URL = env.str("PAYMENT_RATE_URL", default="")
PAYMENT_RATE_TIMEOUT_SECONDS = env.float("PAYMENT_RATE_TIMEOUT_SECONDS", default=10.0)
PAYMENT_RATE_FETCH_SECONDS = env.float("PAYMENT_RATE_FETCH_SECONDS", default=300.0)
PAYMENT_RATE_MAX_AGE_SECONDS = env.int("PAYMENT_RATE_MAX_AGE_SECONDS", default=1800)
PAYMENT_ADMIN_RATE_MAX_AGE_SECONDS = env.int("PAYMENT_ADMIN_RATE_MAX_AGE_SECONDS", default=86400)
if PAYMENT_RATE_URL:
    CELERY_BEAT_SCHEDULE["payment.fetch_rates"] = {
        "task": "payment.fetch_rates",
        "schedule": PAYMENT_RATE_FETCH_SECONDS,
    }
# bitcoinlib keeps configuration and logs of its own: under .data/ (a temporary folder in tests).
PAYMENT_BITCOINLIB_DIR = env.str(
    "PAYMENT_BITCOINLIB_DIR",
    default=str(
        Path(tempfile.gettempdir()) / f"forum-test-bitcoinlib-{os.getuid()}"
        if TESTING
        else DATA_DIR / "bitcoinlib"
    ),
)

# --- API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The bearer token first: DRF names the first class's scheme in WWW-Authenticate, so a call
    # without credentials (or with bad ones) answers 401 `WWW-Authenticate: Bearer realm="api"`, and a
    # member whose good credentials are not enough 403. The session (the site's htmx calls, with its
    # CSRF check) and the access cookie are still asked when no Authorization header is sent
    # (apps/authorization/api/authentication.py, docs/tokens.md).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.authorization.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "apps.authorization.api.authentication.AccessCookieAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "forum.api.ForumAutoSchema",
    "EXCEPTION_HANDLER": "forum.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser with a bound on nesting (forum/parsers.py): a body however built is a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "forum.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Idempotency-Key on API writes (forum/idempotency.py): how long a key and its first answer are kept,
# and the paths that ignore the header because their answers carry secrets (tokens, two-factor
# secrets and backup codes) that must not be stored for the day.
IDEMPOTENCY_KEY_TTL_HOURS = env.float("IDEMPOTENCY_KEY_TTL_HOURS", default=24.0)
if IDEMPOTENCY_KEY_TTL_HOURS <= 0:
    raise ImproperlyConfigured("IDEMPOTENCY_KEY_TTL_HOURS must be positive")
IDEMPOTENCY_EXEMPT_PATHS: list[str] = ["/api/v1/auth/", "/api/v1/me/two-factor"]
SPECTACULAR_SETTINGS = {
    "TITLE": "Forum API",
    "DESCRIPTION": "REST API of the forum for single-page apps. Errors share one shape: "
    '`{"error": {"code": ..., "message": ..., "fields": {...}}}`, unknown routes included.\n\n'
    "**Signing in.** A call that needs a member answers 401 with `WWW-Authenticate: Bearer "
    'realm="api"` when it carries no credentials, or bad ones (a refused token names why in its '
    "`code`: `token_expired` means refresh); 403 when the caller is signed in but may not do it.\n\n"
    "**Pages.** Lists take `?page=` (1 by default): anything but a whole number from 1 to 1,000,000 "
    "is refused with 400 naming the field `page`; a page past the last is empty and still tells "
    "`total`.\n\n"
    "**Live updates.** The WebSocket protocol (`/ws/`: frames, topics, event kinds and their payloads, "
    "close codes) is published as an AsyncAPI 3.0 document: [/api/asyncapi.yaml](/api/asyncapi.yaml) "
    "([JSON](/api/asyncapi.json)).\n\n"
    "**Retrying writes.** A signed-in caller may send `Idempotency-Key: <1 to 255 printable ASCII "
    "characters>` with a POST, PUT, PATCH or DELETE (a new random key per intended write, a UUID say). "
    "The write then happens at most once per key: a retry with the same key and the same request "
    "(method, path, query, body) gets the first answer again, with `Idempotent-Replayed: true`, "
    "instead of a second post, message or reaction; the same key with another request is refused "
    "with 409 `idempotency_key_reused`. Only successful (2xx) answers are kept, for "
    f"{IDEMPOTENCY_KEY_TTL_HOURS:g} hours; after a refusal or an error the same key may be sent again. "
    "A malformed key is refused with 400 `invalid_idempotency_key`, a body over "
    "2.5 MB with the key with 413 `idempotency_body_too_large`. Anonymous calls and the sign-in, "
    "token and two-factor calls ignore the header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # No badge from validator.swagger.io: no page fetches anything from another origin.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Choice sets whose fields share a name with other apps' ("state", "reason"): named once here.
    "ENUM_NAME_OVERRIDES": {
        "SupportTicketStateEnum": "apps.support.models.TicketState",
        "SupportReportReasonEnum": "apps.support.models.ReportReason",
        "PaymentInvoiceStateEnum": "apps.payment.models.InvoiceState",
        "ModerationBanKindEnum": "apps.admin.models.BanKind",
    },
}

# --- Tokens (JWT) for the API ----------------------------------------------------------------------
# docs/tokens.md: refresh tokens rotate, a reused one revokes its family, sign-out revokes.
JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", default=15)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=14)
if JWT_ACCESS_MINUTES <= 0 or JWT_REFRESH_DAYS <= 0:
    raise ImproperlyConfigured("JWT_ACCESS_MINUTES and JWT_REFRESH_DAYS must be positive")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": datetime.timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": datetime.timedelta(days=JWT_REFRESH_DAYS),
    "ALGORITHM": "HS256",
    # A key of its own lets tokens be invalidated all at once without touching sessions and links.
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "user_id",
    # Rotation, reuse detection and revocation are the authorization app's (token families), not
    # simplejwt's blacklist app.
    "ROTATE_REFRESH_TOKENS": True,
    "UPDATE_LAST_LOGIN": False,
}
# SPA mode: the tokens travel in HttpOnly cookies; the refresh cookie is sent only to the token calls.
JWT_ACCESS_COOKIE_NAME = env.str("JWT_ACCESS_COOKIE_NAME", default="access_token")
JWT_REFRESH_COOKIE_NAME = env.str("JWT_REFRESH_COOKIE_NAME", default="refresh_token")
JWT_REFRESH_COOKIE_PATH = "/api/v1/auth/token/"
JWT_COOKIE_SECURE = env.bool("JWT_COOKIE_SECURE", default=PRODUCTION)
JWT_COOKIE_SAMESITE = env.str("JWT_COOKIE_SAMESITE", default="Lax")
if JWT_COOKIE_SAMESITE not in {"Lax", "Strict"}:
    raise ImproperlyConfigured("JWT_COOKIE_SAMESITE must be Lax or Strict")
JWT_COOKIE_DOMAIN = env.str("JWT_COOKIE_DOMAIN", default="") or None

# The community's name in pages and /api/v1/meta; empty means "Forum" in the reader's language.
FORUM_NAME = env.str("FORUM_NAME", default="")

# --- Real-time -------------------------------------------------------------------------------------
# Where pages open their WebSocket; empty means the same origin as the page (behind nginx). The
# embedded stack serves /ws/ from its own port and sets this.
FORUM_WEBSOCKET_URL = env.str("FORUM_WEBSOCKET_URL", default="")

# --- Observability ---------------------------------------------------------------------------------
# /metrics is open in development and test; in production only to the networks listed here, matched
# against REMOTE_ADDR (see forum/metrics.py: nginx must not pass /metrics on from outside).
METRICS_ALLOWED_NETWORKS: list[str] = env.list(
    "METRICS_ALLOWED_NETWORKS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    if PRODUCTION
    else ["0.0.0.0/0", "::/0"],
)
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_error}") from None
# When set, /metrics also wants "Authorization: Bearer <token>".
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus_client's multiprocess mode, for several server processes per container.
METRICS_MULTIPROCESS_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "forum.request_context.RequestContextFilter"}},
    "formatters": {
        # One JSON object per line; fields a record carries beyond these (``extra``) are added.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601 in UTC
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # forum.request_context writes the one line of each request; these would repeat it (runserver
        # logs 4xx and 5xx at WARNING and ERROR, django.request logs 4xx at WARNING; its ERROR line
        # for a 500 stays, since it carries the traceback).
        "django.server": {"level": "CRITICAL"},
        "django.request": {"level": "ERROR"},
        "uvicorn.access": {"level": "WARNING"},
        "granian.access": {"level": "WARNING"},
    },
}

# --- Security --------------------------------------------------------------------------------------
# Django's database sessions, read in plain SQL (forum/session_store.py).
SESSION_ENGINE = "forum.session_store"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "forum.pages.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
