"""The embedded stack of `make run`: real Redis and PostgreSQL servers from wheels, and their env file."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from forum.embedded import free_port, start_postgres, start_redis, stop_postgres, write_env_file
from forum.launcher import LaunchConfig, celery_queues, child_commands, port_is_free

BASE_DIR = Path(settings.BASE_DIR)


def test_embedded_redis_answers_and_stops(tmp_path: Path) -> None:
    embedded = start_redis(tmp_path / "redis")
    try:
        client = redis.Redis.from_url(embedded.url)
        assert client.ping()
        client.set("forum:launcher-test", "1")
        assert client.get("forum:launcher-test") == b"1"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("save")["save"] == ""
        client.close()
    finally:
        assert embedded.stop() == 0
    assert port_is_free(embedded.port)


@pytest.fixture
def pgdata() -> Iterator[Path]:
    # Not under pytest's tmp_path: run as root, the wheel opens every parent of the data directory to
    # its own system user, and pytest closes its base directory again (mode 0700) whenever it is used.
    parent = Path(tempfile.mkdtemp(prefix="forum-pg-"))
    try:
        yield parent / "pgdata"
    finally:
        stop_postgres(parent / "pgdata")
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.slow
def test_embedded_postgres_runs_queries_and_stops(pgdata: Path) -> None:
    embedded = start_postgres(pgdata, database="forum_embedded")
    try:
        # Connected the way Django is: through the URL written to .data/embedded.env.
        config = _settings_for({"DATABASE_URL": embedded.url})["database"]
        assert config["NAME"] == "forum_embedded"
        assert config["HOST"] == str(embedded.socket_dir)
        with psycopg.connect(
            host=config["HOST"], port=config["PORT"], user=config["USER"], dbname=config["NAME"]
        ) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        # A second start on the same data takes the running server over and creates nothing twice.
        again = start_postgres(pgdata, database="forum_embedded")
        assert again.url == embedded.url
    finally:
        embedded.stop()
    assert not (pgdata / "postmaster.pid").exists()


def _settings_for(file_values: dict[str, str], **environment: str) -> dict[str, object]:
    """The database and Redis settings of a development process whose data dir holds these values."""
    data_dir = Path(tempfile.mkdtemp(prefix="forum-env-"))
    try:
        write_env_file(data_dir / "embedded.env", file_values)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PYTEST_XDIST_WORKER"}
        }
        env.update(FORUM_ENV="development", FORUM_DATA_DIR=str(data_dir), **environment)
        script = (
            "import json; from config import settings as s; "
            "print(json.dumps({'database': s.DATABASES['default'], 'redis': s.REDIS_URL, "
            "'broker': s.CELERY_BROKER_URL, 'caches': s.CACHES['default']['LOCATION']}))"
        )
        output = subprocess.run(
            [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
        ).stdout
        result: dict[str, object] = json.loads(output.strip().splitlines()[-1])
        return result
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_settings_read_the_embedded_env_file() -> None:
    values = {
        "DATABASE_URL": "postgres://postgres@:5432//srv/forum/.data/postgres/forum",
        "REDIS_URL": "redis://127.0.0.1:6390/0",
    }
    result = _settings_for(values)
    database = result["database"]
    assert isinstance(database, dict)
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "/srv/forum/.data/postgres",
        5432,
        "forum",
    )
    # One Redis is the cache, the Channels layer and the Celery broker.
    assert result["redis"] == result["caches"] == result["broker"] == "redis://127.0.0.1:6390/0"

    # The environment wins over the file: that is how `make run` is pointed at real services.
    real = _settings_for(values, REDIS_URL="redis://127.0.0.1:6379/3", CELERY_BROKER_URL="amqp://guest@x//")
    assert real["redis"] == "redis://127.0.0.1:6379/3"
    assert real["broker"] == "amqp://guest@x//"


def test_worker_consumes_every_app_queue(tmp_path: Path) -> None:
    queues = celery_queues()
    assert "forum" in queues
    for label in ("authentication", "thread", "notification", "payment", "status", "frame", "forum_admin"):
        assert label in queues
    config = LaunchConfig.from_environment(
        {"FORUM_HTTP_PORT": "18000", "FORUM_DATA_DIR": str(tmp_path)}, BASE_DIR
    )
    assert config.embedded_postgres and config.embedded_redis
    assert config.site_url == "http://127.0.0.1:18000/"
    commands = child_commands(config, queues)
    assert set(commands) == {"web", "websocket", "worker", "beat"}
    assert ",".join(queues) in commands["worker"]
    assert "127.0.0.1:18000" in commands["web"]
    assert not LaunchConfig.from_environment({"DATABASE_URL": "postgres://x/y"}, BASE_DIR).embedded_postgres


def test_free_port_is_free() -> None:
    assert port_is_free(free_port())


@pytest.mark.django_db
def test_seed_demo_creates_the_admin_once(settings: Any) -> None:
    out = io.StringIO()
    settings.DEMO_ADMIN_PASSWORD = ""
    call_command("seed_demo", stdout=out)
    password = out.getvalue().split("with the password ", 1)[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(password)

    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert "nothing to do" in again.getvalue()
    assert get_user_model().objects.filter(username="admin").count() == 1

    settings.DEMO_ADMIN_PASSWORD = "a-chosen-demo-password"
    call_command("seed_demo", stdout=io.StringIO())
    assert get_user_model().objects.get(username="admin").check_password("a-chosen-demo-password")

    settings.PRODUCTION = True
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=io.StringIO())
