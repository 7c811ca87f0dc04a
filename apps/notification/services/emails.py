"""Email: each notification mailed at once, the daily digests, and the signed unsubscribe links."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.notification import kinds as registry
from apps.notification import mail, selectors
from apps.notification.kinds import EmailChannel
from apps.notification.models import MemberSettings, Notification
from apps.notification.services._common import _languages, _names, _rendered, logger
from apps.notification.services.data import Unsubscribe
from apps.notification.services.preferences import preferences_update
from forum.errors import NotFound

# The kind an email's unsubscribe link turns off when it is a digest (every email, any kind).
ALL_EMAILS = "*"
_UNSUBSCRIBE_SALT = "notification.unsubscribe"


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    """The signed part of an unsubscribe link: who, and which emails (a kind, or ``*`` for all)."""
    return signing.dumps({"u": user_id, "k": kind}, salt=_UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(*, token: str) -> Unsubscribe:
    """What an unsubscribe link stands for; NotFound for a link that was altered or made up."""
    try:
        data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise NotFound(_("This unsubscribe link is not valid.")) from None
    user_id, kind = (data.get("u"), data.get("k")) if isinstance(data, dict) else (None, None)
    if not isinstance(user_id, int) or not isinstance(kind, str):
        raise NotFound(_("This unsubscribe link is not valid."))
    if kind == ALL_EMAILS:
        label = _("all emails")
    else:
        registered = registry.get(kind)
        if registered is None:
            raise NotFound(_("This unsubscribe link is not valid."))
        label = str(registered.label)
    return Unsubscribe(user_id=user_id, kind=kind, label=label)


def unsubscribe_apply(*, token: str) -> Unsubscribe:
    """Follow an unsubscribe link (no sign-in: the signature is the proof): a kind's emails stop, or,
    for a digest's link, every email."""
    found = unsubscribe_read(token=token)
    if found.kind == ALL_EMAILS:
        preferences_update(user_id=found.user_id, email_enabled=False)
    else:
        preferences_update(user_id=found.user_id, kinds={found.kind: {"email": EmailChannel.OFF.value}})
    return found


def _language_of(languages: Mapping[int, str], user_id: int) -> str:
    language = languages.get(user_id, "")
    return language if language in _languages() else str(settings.LANGUAGE_CODE)


def _address(accounts: Mapping[int, Mapping[str, Any]], user_id: int) -> str:
    account = accounts.get(user_id)
    if account is None or not account["is_active"] or not account["email_verified"] or not account["email"]:
        return ""
    return str(account["email"])


def notification_emails_send(*, notification_ids: Sequence[int]) -> int:
    """Mail each notification at once, in its member's language, to a verified address; returns how
    many went. Each row is marked mailed with its send, so a retry sends only what did not go."""
    sent = 0
    failures = 0
    with transaction.atomic():
        rows = selectors.for_email(notification_ids=notification_ids)
        recipients = {row.recipient_id for row in rows}
        accounts = selectors.accounts(user_ids=recipients)
        languages = selectors.languages_of(user_ids=recipients)
        silent = selectors.emails_off(user_ids=recipients)
        names = _names(actor for row in rows for actor in row.actor_ids[:1])
        now = timezone.now()
        for row in rows:
            address = _address(accounts, row.recipient_id)
            if address and row.recipient_id not in silent:
                with translation.override(_language_of(languages, row.recipient_id)):
                    text, url = _rendered(row, names)
                    kind = registry.get(row.kind)
                    message = mail.notification_message(
                        to=address,
                        text=text,
                        url=url,
                        label=str(kind.label) if kind else row.kind,
                        unsubscribe_token=unsubscribe_token(user_id=row.recipient_id, kind=row.kind),
                    )
                try:
                    message.send()
                except Exception as error:  # noqa: BLE001 - one bad address must not stop the others
                    failures += 1
                    logger.warning(
                        "notification email not sent",
                        extra={"notification_id": row.pk, "error": f"{type(error).__name__}: {error}"},
                    )
                    continue
                sent += 1
            row.emailed_at = now
        Notification.objects.bulk_update(rows, ["emailed_at"])
        if failures and not sent:
            # Nothing went (the mail server is down): roll back and let the bus retry them all.
            raise RuntimeError(f"no notification email could be sent ({failures} failed)")
    return sent


def digests_send() -> int:
    """Mail each member their digest: the notifications of digest kinds since their last one, once a
    day, from ``NOTIFICATION_DIGEST_HOUR`` (UTC) on. Run every hour by beat; a second run the same
    day sends nothing more. Returns how many digests went."""
    now = timezone.now()
    if now.hour < int(settings.NOTIFICATION_DIGEST_HOUR):
        return 0
    today = now.date()
    sent = 0
    for user_id in selectors.digest_members(today=today):
        try:
            sent += _digest_send(user_id, today, now)
        except Exception as error:  # noqa: BLE001 - this member's digest waits for the next run
            logger.warning(
                "digest not sent", extra={"user_id": user_id, "error": f"{type(error).__name__}: {error}"}
            )
    return sent


def _digest_send(user_id: int, today: datetime.date, now: datetime.datetime) -> int:
    with transaction.atomic():
        member, _created = MemberSettings.objects.select_for_update().get_or_create(user_id=user_id)
        if member.last_digest_on is not None and member.last_digest_on >= today:
            return 0  # another run got here first
        rows = selectors.digest_rows(user_id=user_id)
        address = _address(selectors.accounts(user_ids=[user_id]), user_id)
        sent = 0
        if rows and address and member.email_enabled:
            names = _names(actor for row in rows for actor in row.actor_ids[:1])
            with translation.override(_language_of({user_id: member.language}, user_id)):
                lines = [_rendered(row, names) for row in rows]
                message = mail.digest_message(
                    to=address,
                    lines=lines,
                    unsubscribe_token=unsubscribe_token(user_id=user_id, kind=ALL_EMAILS),
                )
            message.send()  # a failure rolls this member back, for the next run
            sent = 1
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(emailed_at=now)
        member.last_digest_on = today
        member.save(update_fields=["last_digest_on", "updated_at"])
    return sent
