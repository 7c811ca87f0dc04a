"""Notifications from the status app: a status given to a member, and the warning that one ends soon."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from apps.notification import kinds as registry
from apps.notification import selectors
from apps.notification.services.delivery import _About, _deliver
from apps.status.services import status_get, status_grants_ending
from forum.errors import NotFound


def _status_name(code: str) -> str:
    # The catalogue's own text, untranslated: the reader's language is applied when it is shown.
    with translation.override(None):
        try:
            return status_get(code=code).name
        except NotFound:
            return code


def status_granted_notify(
    *,
    grant_id: int,
    user_id: int,
    status_code: str,
    ends_at: datetime.datetime | None,
    granted_by: int | None,
    starts_at: datetime.datetime | None = None,
) -> list[int]:
    """The member learns of a status given to them (from when, if it starts later)."""
    with transaction.atomic():
        later = starts_at is not None and starts_at > timezone.now()
        about = _About(
            source=f"grant:{grant_id}",
            actor_id=granted_by,
            params={
                "status_code": status_code,
                "status_name": _status_name(status_code),
                "user_id": user_id,
                "starts_on": starts_at.date().isoformat() if later and starts_at else "",
                "ends_on": ends_at.date().isoformat() if ends_at else "",
            },
        )
        return _deliver({user_id: [registry.STATUS_GRANTED.code]}, about)


def statuses_expiring_notify() -> int:
    """Warn members whose status grant ends within ``NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS``,
    once per grant (run every hour by beat)."""
    within = datetime.timedelta(hours=float(settings.NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS))
    grants = status_grants_ending(within=within)
    done = selectors.sources_existing(
        sources=[f"grant:{grant.grant_id}:expiring" for grant in grants], kind=registry.STATUS_EXPIRING.code
    )
    warned = 0
    for grant in grants:
        source = f"grant:{grant.grant_id}:expiring"
        if (grant.user_id, source) in done or grant.ends_at is None:
            continue
        with transaction.atomic():
            about = _About(
                source=source,
                actor_id=None,
                params={
                    "status_code": grant.status_code,
                    "status_name": _status_name(grant.status_code),
                    "user_id": grant.user_id,
                    "ends_on": grant.ends_at.date().isoformat(),
                    # A bought grant: the status app's one-click renewal page, where the link leads.
                    **({"renew_url": grant.renew_url} if grant.renew_url else {}),
                },
            )
            warned += len(_deliver({grant.user_id: [registry.STATUS_EXPIRING.code]}, about))
    return warned
