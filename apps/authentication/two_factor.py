"""Second factors of an account: django-otp's TOTP device and backup codes, sign-in challenges.

Private to the authentication app: ``services`` calls these and decides what a refusal says. Each
account has at most one TOTP device: unconfirmed while being enrolled, confirmed once a code from it
was right. Backup codes are one django-otp static device with its single-use tokens.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.authentication import throttles
from apps.authentication.models import User

__all__ = [
    "BACKUP_CODE_COUNT",
    "CHALLENGE_TTL",
    "CodeCheck",
    "backup_codes_left",
    "backup_codes_replace",
    "challenge_consume",
    "challenge_create",
    "challenge_drop",
    "challenge_subject",
    "challenge_user_id",
    "code_check",
    "devices_delete",
    "enrolment_start",
    "enrolment_uri",
    "is_enabled",
    "key_base32",
    "pending_device",
]

BACKUP_CODE_COUNT = 10
# Seconds a sign-in waits for its code after the password was right.
CHALLENGE_TTL = 300
_DEVICE_NAME = "default"
_TOTP_CODE = re.compile(r"[0-9]{6}")
_BACKUP_CODE = re.compile(r"[a-z2-7]{8}")
# Longer than any challenge we hand out; anything longer is not looked up at all.
_CHALLENGE_MAX_LENGTH = 100


# --- Devices ------------------------------------------------------------------------------------------


def is_enabled(user_id: int) -> bool:
    return bool(TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists())


def pending_device(user: User) -> TOTPDevice | None:
    """The TOTP device being enrolled (not confirmed yet), if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def enrolment_start(user: User) -> TOTPDevice:
    """A new unconfirmed device with a fresh key, replacing any earlier unfinished enrolment."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=_DEVICE_NAME, confirmed=False)


def key_base32(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed: base32 without padding."""
    return b32encode(unhexlify(str(device.key))).decode().rstrip("=")


def enrolment_uri(device: TOTPDevice, *, issuer: str, account_name: str) -> str:
    """The otpauth:// URI of Google's Key Uri Format, which the QR code carries."""
    issuer = issuer.replace(":", "")
    label = quote(issuer) + ":" + quote(account_name)
    params = urlencode(
        {
            "secret": key_base32(device),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": int(device.digits),
            "period": int(device.step),
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{params}"


def devices_delete(user: User) -> None:
    """Every second factor of the account, confirmed or not, and its backup codes."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


# --- Backup codes -------------------------------------------------------------------------------------


def backup_codes_replace(user: User) -> list[str]:
    """Ten new backup codes; the old ones stop working."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
        codes: list[str] = []
        while len(codes) < BACKUP_CODE_COUNT:
            code = str(StaticToken.random_token())
            if code not in codes:
                codes.append(code)
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def backup_codes_left(user_id: int) -> int:
    return int(StaticToken.objects.filter(device__user_id=user_id, device__confirmed=True).count())


# --- Codes --------------------------------------------------------------------------------------------


def _normalized(code: str) -> str:
    # People copy codes with spaces or dashes ("123 456", "abcd-efgh"), and in any case.
    return re.sub(r"[\s-]", "", code).lower()


class CodeCheck(enum.Enum):
    """What a code turned out to be."""

    RIGHT = "right"
    WRONG = "wrong"
    # A TOTP code of a time step already used (at enrolment, or by an earlier sign-in): right, but a
    # code is good once, so it is refused; the member's app shows the next one within 30 seconds.
    USED = "used"


def _totp_check(device: TOTPDevice, code: str) -> CodeCheck:
    # Checked here rather than by device.verify_token, which reads int(code): "1_23456" would pass, and
    # which says False alike for a wrong code and for one of a step already used.
    def totp() -> TOTP:
        checker = TOTP(
            device.bin_key, int(device.step), int(device.t0), int(device.digits), int(device.drift)
        )
        checker.time = time.time()
        return checker

    current = totp()
    # A code is good once: only time steps after the last one accepted count (no replay).
    if not current.verify(int(code), int(device.tolerance), int(device.last_t) + 1):
        # django-otp's verify says no to both; asked again without the lower bound, a yes means the
        # code is of a step at or before the last one used.
        return CodeCheck.USED if totp().verify(int(code), int(device.tolerance)) else CodeCheck.WRONG
    device.last_t = current.t()
    device.drift = current.drift
    device.set_last_used_timestamp(commit=False)
    device.save(update_fields=["last_t", "drift", "last_used_at"])
    return CodeCheck.RIGHT


def code_check(user: User, code: str, *, pending: bool = False) -> CodeCheck:
    """Whether ``code`` is right for the account, using it up: a TOTP code or an unused backup code.

    With ``pending``, only the device being enrolled counts (its first code confirms it). The rows are
    locked while checked, so that two requests cannot both use one code. A used backup code is gone,
    so it is WRONG, not USED.
    """
    code = _normalized(code)
    with transaction.atomic():
        if _TOTP_CODE.fullmatch(code):
            devices = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=not pending)
            for device in devices.order_by("-pk")[:1]:
                found = _totp_check(device, code)
                if found is CodeCheck.RIGHT and pending:
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                return found
            return CodeCheck.WRONG
        if pending or not _BACKUP_CODE.fullmatch(code):
            return CodeCheck.WRONG
        token = (
            StaticToken.objects.select_for_update()
            .filter(device__user=user, device__confirmed=True, token=code)
            .first()
        )
        if token is None:
            return CodeCheck.WRONG
        token.delete()
        return CodeCheck.RIGHT


# --- Sign-in challenges -------------------------------------------------------------------------------


def challenge_subject(challenge: str) -> str:
    """What stands for a challenge in Redis keys and counters: its hash, never the challenge itself."""
    return hashlib.sha256(challenge.encode()).hexdigest()


def _challenge_key(challenge: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:auth-2fa-challenge:{challenge_subject(challenge)}"


def challenge_create(user_id: int) -> str:
    """A random, single-use token that stands for "this account's password was right", for a while."""
    challenge = secrets.token_urlsafe(32)
    throttles.store().set(_challenge_key(challenge), str(user_id), ex=CHALLENGE_TTL)
    return challenge


def challenge_user_id(challenge: str) -> int | None:
    """The account a challenge is for, or None when it is unknown, used or expired."""
    if not challenge or len(challenge) > _CHALLENGE_MAX_LENGTH:
        return None
    value = throttles.store().get(_challenge_key(challenge))
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def challenge_consume(challenge: str) -> bool:
    """Use a challenge up; False when another request used it first."""
    return bool(throttles.store().delete(_challenge_key(challenge)) == 1)


def challenge_drop(challenge: str) -> None:
    throttles.store().delete(_challenge_key(challenge))
