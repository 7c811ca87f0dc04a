"""Peppered bcrypt: the default hasher, keyed with the pepper, never truncated; older hashes upgraded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from apps.authentication.hashers import PepperedBCryptSHA256PasswordHasher
from apps.authentication.models import User
from apps.authentication.tests.helpers import PASSWORD


def test_new_passwords_are_peppered_bcrypt_at_the_configured_cost() -> None:
    encoded = make_password(PASSWORD)
    assert encoded.startswith("bcrypt_peppered$$2b$")
    assert isinstance(identify_hasher(encoded), PepperedBCryptSHA256PasswordHasher)
    # "$2b$04$...": the cost the settings ask for (the test profile's minimum), written in the hash.
    assert encoded.split("$")[3] == f"{settings.BCRYPT_ROUNDS:02d}"
    assert check_password(PASSWORD, encoded)
    assert not check_password(PASSWORD + "x", encoded)


def test_a_long_password_is_never_truncated_at_bcrypts_72_bytes() -> None:
    first = "p" * 80 + "A" * 20
    second = "p" * 80 + "B" * 20  # the same first 80 bytes: plain bcrypt would see one password
    assert len(first.encode()) == 100
    encoded = make_password(first)
    assert check_password(first, encoded)
    assert not check_password(second, encoded)


def test_multibyte_passwords_past_72_bytes_are_told_apart() -> None:
    first = "пароль" * 7 + "а"  # 86 bytes in UTF-8
    second = "пароль" * 7 + "б"
    assert len(first.encode()) > 72
    assert not check_password(second, make_password(first))


def test_the_pepper_is_needed_to_verify(settings: Any) -> None:
    encoded = make_password(PASSWORD)
    settings.PASSWORD_PEPPER = "another-pepper-that-the-database-never-saw-0123456789"
    assert not check_password(PASSWORD, encoded)


def test_without_a_pepper_nothing_is_hashed(settings: Any) -> None:
    settings.PASSWORD_PEPPER = ""
    with pytest.raises(ImproperlyConfigured, match="PASSWORD_PEPPER"):
        make_password(PASSWORD)


def test_the_pepper_is_not_in_the_hash() -> None:
    encoded = make_password(PASSWORD)
    assert settings.PASSWORD_PEPPER not in encoded
    assert PASSWORD not in encoded


@pytest.mark.django_db
@pytest.mark.parametrize("old_hasher", ["pbkdf2_sha256", "bcrypt_sha256"])
def test_an_older_hash_is_upgraded_when_its_owner_signs_in(
    make_member: Callable[..., User], api: APIClient, old_hasher: str
) -> None:
    user = make_member()
    user.password = make_password(PASSWORD, hasher=old_hasher)
    user.save(update_fields=["password"])

    response = api.post("/api/v1/auth/signin", {"login": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("bcrypt_peppered$")
    assert check_password(PASSWORD, user.password)


@pytest.mark.django_db
def test_a_wrong_password_leaves_an_older_hash_alone(
    make_member: Callable[..., User], api: APIClient
) -> None:
    user = make_member()
    old = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.password = old
    user.save(update_fields=["password"])
    api.post("/api/v1/auth/signin", {"login": "alice", "password": "not-it"}, format="json")
    user.refresh_from_db()
    assert user.password == old


@pytest.mark.django_db
def test_a_hash_of_a_lower_cost_is_raised_at_sign_in(
    make_member: Callable[..., User], api: APIClient, settings: Any
) -> None:
    user = make_member()
    settings.BCRYPT_ROUNDS = 5
    api.post("/api/v1/auth/signin", {"login": "alice", "password": PASSWORD}, format="json")
    user.refresh_from_db()
    assert user.password.split("$")[3] == "05"


def _settings_in_production(**variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FORUM_ENV": "production",
        "DEBUG": "false",
        "SECRET_KEY": "k" * 64,
        "ALLOWED_HOSTS": "forum.example.com",
        **variables,
    }
    if "PASSWORD_PEPPER" not in variables:
        env.pop("PASSWORD_PEPPER", None)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_a_pepper() -> None:
    refused = _settings_in_production()
    assert refused.returncode != 0
    assert "PASSWORD_PEPPER" in refused.stderr

    too_short = _settings_in_production(PASSWORD_PEPPER="short")
    assert "PASSWORD_PEPPER" in too_short.stderr

    # Other settings may still be missing here; the pepper is no longer among the problems.
    accepted = _settings_in_production(PASSWORD_PEPPER="p" * 48)
    assert "PASSWORD_PEPPER" not in accepted.stderr
