"""The production profile refuses insecure settings, and `check --deploy` is clean under a good one."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FORUM_", "DJANGO_"))}
    env.update(
        {
            "FORUM_ENV": "production",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "PASSWORD_PEPPER": secrets.token_urlsafe(48),
            "INTERNAL_API_SECRETS": f"main:{secrets.token_urlsafe(48)}",
            "ALLOWED_HOSTS": "forum.example.org",
            "DEBUG": "false",
        }
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_the_production_profile() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DEBUG": "true"}, "DEBUG is on"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"PASSWORD_PEPPER": ""}, "PASSWORD_PEPPER"),
        ({"INTERNAL_API_SECRETS": ""}, "INTERNAL_API_SECRETS"),
    ],
)
def test_the_production_profile_refuses_insecure_settings(overrides: dict[str, str], named: str) -> None:
    env = production_env(**overrides)
    for key, value in overrides.items():
        if value == "":
            env.pop(key)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "Refusing to start the production profile" in result.stderr
    assert named in result.stderr


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"MEDIA_ROOT": "/srv/media", "PRIVATE_MEDIA_ROOT": "/srv/media/private"}, "MEDIA_ROOT"),
        ({"MEDIA_ROOT": "/srv/media", "PRIVATE_MEDIA_ROOT": "/srv/media"}, "MEDIA_ROOT"),
        ({"MEDIA_ROOT": "/srv/files/media", "PRIVATE_MEDIA_ROOT": "/srv/files"}, "MEDIA_ROOT"),
        ({"STATIC_ROOT": "/srv/static", "PRIVATE_MEDIA_ROOT": "/srv/static/uploads"}, "STATIC_ROOT"),
        ({"PRIVATE_MEDIA_ROOT": str(BASE_DIR / "static" / "private")}, "STATICFILES_DIRS"),
        (
            {"S3_ENDPOINT_URL": "http://127.0.0.1:9", "S3_BUCKET": "forum", "S3_PRIVATE_PREFIX": ""},
            "S3_PRIVATE_PREFIX",
        ),
    ],
)
@pytest.mark.parametrize("profile", ["production", "development"])
def test_private_uploads_are_refused_where_a_public_route_serves_them(
    overrides: dict[str, str], named: str, profile: str, tmp_path: Path
) -> None:
    # Attachments must never land where /media/ or /static/ (Django's or nginx's) would serve them.
    env = production_env(FORUM_ENV=profile, FORUM_DATA_DIR=str(tmp_path), **overrides)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr


def test_private_uploads_may_live_beside_the_public_ones(tmp_path: Path) -> None:
    env = production_env(
        MEDIA_ROOT=str(tmp_path / "media"),
        PRIVATE_MEDIA_ROOT=str(tmp_path / "private"),
        STATIC_ROOT=str(tmp_path / "static"),
    )
    result = manage("check", env=env)
    assert result.returncode == 0, result.stderr
    separate_bucket = production_env(
        S3_ENDPOINT_URL="http://127.0.0.1:9", S3_PRIVATE_BUCKET="forum-private", S3_PRIVATE_PREFIX=""
    )
    assert manage("check", env=separate_bucket).returncode == 0
