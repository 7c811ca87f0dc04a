"""The kinds of notification: registering another app's kinds, listing them, and notifying members
of a kind another app registered (``NotificationRequested``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from apps.notification import kinds as registry
from apps.notification.kinds import NotificationKind
from apps.notification.models import SOURCE_MAX_LENGTH
from apps.notification.services.data import KindInfo
from apps.notification.services.delivery import _About, _deliver
from forum.errors import ValidationFailed


def notification_kind_register(kind: NotificationKind) -> NotificationKind:
    """Add a kind of another app (call it from its ``AppConfig.ready``)."""
    return registry.register(kind)


def notification_kind_unregister(*, code: str) -> None:
    registry.unregister(code)


def _kind_info(kind: NotificationKind) -> KindInfo:
    return KindInfo(
        code=kind.code,
        label=str(kind.label),
        description=str(kind.description),
        default_site=kind.default_site,
        default_email=str(kind.default_email),
        grouping=str(kind.grouping),
        app=kind.app,
    )


def notification_kinds() -> list[KindInfo]:
    """Every registered kind, with its defaults (labels in the active language)."""
    return [_kind_info(kind) for kind in registry.registered()]


def _kind(code: str) -> NotificationKind:
    kind = registry.get(code)
    if kind is None:
        raise ValidationFailed(_("There is no such kind of notification."), fields={"kind": [code]})
    return kind


# --- Other apps' kinds ------------------------------------------------------------------------------------


def notification_request(
    *,
    kind: str,
    recipient_ids: Sequence[int],
    source: str,
    actor_id: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[int]:
    """Notify members of a kind another app registered (``NotificationRequested``)."""
    registered = _kind(kind)
    if not source or len(source) > SOURCE_MAX_LENGTH:
        raise ValidationFailed(_("Say what the notification is about."), fields={"source": [source[:200]]})
    with transaction.atomic():
        about = _About(source=source, actor_id=actor_id, params=dict(params or {}))
        return _deliver({user_id: [registered.code] for user_id in recipient_ids}, about)
