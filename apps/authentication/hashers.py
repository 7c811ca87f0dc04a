"""The forum's password hasher: bcrypt over an HMAC of the password keyed with a secret pepper."""

from __future__ import annotations

import hashlib
import hmac

import bcrypt
from django.conf import settings
from django.contrib.auth.hashers import BCryptSHA256PasswordHasher
from django.core.exceptions import ImproperlyConfigured

__all__ = ["PepperedBCryptSHA256PasswordHasher"]


class PepperedBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    """bcrypt of ``hex(HMAC-SHA256(PASSWORD_PEPPER, password))``.

    The pepper lives in the environment, never in the database, so a stolen dump of hashes cannot be
    attacked without it. Keying first also turns any password into 64 ASCII bytes, under bcrypt's
    72-byte limit: a long password is never truncated, and a NUL byte in it never cuts it short.
    Hashes of another cost (``BCRYPT_ROUNDS``) are rehashed at the next sign-in, like any older hasher's.
    """

    algorithm = "bcrypt_peppered"

    # Django's hasher has a class attribute; ours follows the setting, which tests lower for speed.
    @property
    def rounds(self) -> int:  # type: ignore[override]
        return int(settings.BCRYPT_ROUNDS)

    def encode(self, password: str, salt: bytes | str) -> str:
        if isinstance(salt, str):
            salt = salt.encode("ascii")
        data: bytes = bcrypt.hashpw(self._keyed(password), salt)
        return f"{self.algorithm}${data.decode('ascii')}"

    @staticmethod
    def _keyed(password: str) -> bytes:
        pepper = str(settings.PASSWORD_PEPPER)
        if not pepper:
            raise ImproperlyConfigured("PASSWORD_PEPPER is empty: passwords cannot be hashed without it")
        digest = hmac.new(pepper.encode(), password.encode(), hashlib.sha256).hexdigest()
        return digest.encode("ascii")
