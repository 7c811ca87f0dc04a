"""Reading a member's notifications (a page, the bell's latest, the unread count) and marking them read."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.notification import kinds as registry
from apps.notification import selectors
from apps.notification.models import Notification
from apps.notification.services._common import _names, _rendered
from apps.notification.services.data import NotificationItem, NotificationPage
from apps.notification.services.delivery import _push_read
from forum.errors import NotFound
from forum.paging import page_in_range

PER_PAGE = 20
LATEST_COUNT = 8


def _items(rows: Sequence[Notification]) -> tuple[NotificationItem, ...]:
    names = _names(actor for row in rows for actor in row.actor_ids[:1])
    items = []
    for row in rows:
        text, url = _rendered(row, names)
        items.append(
            NotificationItem(
                id=row.pk,
                kind=row.kind,
                text=text,
                url=url,
                actor_ids=tuple(row.actor_ids),
                count=row.count,
                thread_id=row.thread_id,
                post_id=row.post_id,
                created_at=row.created_at,
                updated_at=row.updated_at,
                read_at=row.read_at,
            )
        )
    return tuple(items)


def notifications_page(
    *, user_id: int, page: int = 1, kind: str = "", per_page: int = PER_PAGE
) -> NotificationPage:
    """A page of the member's notifications, newest activity first, optionally of one kind: four
    queries whatever the page holds (count, unread count, rows, the actors' names)."""
    if kind and registry.get(kind) is None:
        kind = ""
    rows = selectors.shown_to(user_id=user_id, kind=kind or None)
    total = rows.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    found = list(rows[start : start + per_page])
    return NotificationPage(
        items=_items(found),
        number=number,
        per_page=per_page,
        total=total,
        unread_count=selectors.unread_count(user_id=user_id),
        kind=kind,
    )


def notifications_latest(*, user_id: int, count: int = LATEST_COUNT) -> tuple[NotificationItem, ...]:
    """The member's latest notifications, for the bell's dropdown (two queries)."""
    return _items(list(selectors.shown_to(user_id=user_id)[:count]))


def unread_count(*, user_id: int) -> int:
    return selectors.unread_count(user_id=user_id)


def _own(user_id: int, notification_id: int) -> Notification:
    row = None
    if 0 < notification_id < 2**63:
        row = (
            Notification.objects.select_for_update().filter(pk=notification_id, recipient_id=user_id).first()
        )
    if row is None:
        raise NotFound(_("There is no such notification."))
    return row


def notification_mark_read(*, user_id: int, notification_id: int) -> int:
    """Mark one of the member's notifications read (404 for anyone else's); returns the unread count."""
    with transaction.atomic():
        row = _own(user_id, notification_id)
        if row.read_at is None:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
            _push_read(user_id)
    return selectors.unread_count(user_id=user_id)


def notification_open(*, user_id: int, notification_id: int) -> str:
    """Mark a notification read and answer where it leads (404 for anyone else's)."""
    with transaction.atomic():
        row = _own(user_id, notification_id)
        if row.read_at is None:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
            _push_read(user_id)
        names = _names(row.actor_ids[:1])
    return _rendered(row, names)[1]


def notifications_mark_all_read(*, user_id: int, kind: str = "") -> int:
    """Mark all the member's notifications read (of one kind when given); returns how many."""
    with transaction.atomic():
        rows = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True)
        if kind:
            rows = rows.filter(kind=kind)
        marked = rows.update(read_at=timezone.now())
        if marked:
            _push_read(user_id)
    return marked
