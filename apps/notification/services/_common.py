"""What several concerns of the notification services share: the logger, the email choices, the
forum's languages, and how a notification row reads (its text and link, with the actor's name).
Private to the package: callers import from ``apps.notification.services``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from django.conf import settings

from apps.notification import kinds as registry
from apps.notification.kinds import EmailChannel, NotificationFacts
from apps.notification.models import Notification
from apps.user.services import users_brief

# The name the app's log lines have always carried, whichever module of the package writes them.
logger = logging.getLogger("apps.notification.services")


_EMAIL_VALUES = frozenset(channel.value for channel in EmailChannel)


def _languages() -> set[str]:
    return {code for code, _name in settings.LANGUAGES}


def _names(actor_ids: Iterable[int]) -> dict[int, str]:
    wanted = list(dict.fromkeys(actor_ids))
    names: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        names.update(
            {brief.id: brief.username for brief in users_brief(user_ids=wanted[start : start + 500])}
        )
    return names


def _facts(row: Notification, names: Mapping[int, str]) -> NotificationFacts:
    return NotificationFacts(
        kind=row.kind,
        actor_names=tuple(names[actor] for actor in row.actor_ids[:1] if actor in names),
        count=row.count,
        params=row.params or {},
        thread_id=row.thread_id,
        post_id=row.post_id,
    )


def _rendered(row: Notification, names: Mapping[int, str]) -> tuple[str, str]:
    kind = registry.get(row.kind)
    facts = _facts(row, names)
    if kind is None:  # a kind whose app is gone: still shown, plainly
        return row.kind, "/"
    try:
        return kind.describe(facts), kind.link(facts)
    except Exception:  # one kind's broken text must not break the page
        logger.exception("notification text failed", extra={"kind": row.kind, "notification_id": row.pk})
        return str(kind.label), "/"
