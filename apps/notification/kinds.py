"""The registry of notification kinds: what each kind says, where it leads, and its default channels.

A kind is registered in code, once per process, by the app that owns what it tells about: this app's
own kinds below, and later apps' from their ``AppConfig.ready`` through
``apps.notification.services.notification_kind_register`` (support tickets, payments), without a line
of this app changing. The texts are written in the active language when a notification is shown or
mailed, from what the row keeps (who acted, how many, and the kind's own parameters).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

__all__ = [
    "CODE_PATTERN",
    "EmailChannel",
    "NotificationFacts",
    "NotificationKind",
    "get",
    "register",
    "registered",
    "unregister",
]

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
CODE_MAX_LENGTH = 64


class EmailChannel(StrEnum):
    """How a kind reaches a member by email: at once, in the daily digest, or not at all."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"
    OFF = "off"


class Grouping(StrEnum):
    """How later events about the same thing update the one row a member has about it."""

    NONE = "none"  # the first event makes the row; later ones change nothing
    ACTORS = "actors"  # counts distinct actors for good ("Anna and 4 others reacted")
    EVENTS = "events"  # counts events since the member last read it ("3 new messages")


@dataclass(frozen=True)
class NotificationFacts:
    """What a kind's text and link are made from: one stored notification, with names resolved."""

    kind: str
    actor_names: tuple[str, ...]  # newest first; empty when nobody acted (the system did)
    count: int
    params: Mapping[str, Any]
    thread_id: int | None = None
    post_id: int | None = None

    @property
    def actor(self) -> str:
        return self.actor_names[0] if self.actor_names else _("Someone")

    @property
    def others(self) -> int:
        return max(0, self.count - 1)

    def param(self, name: str, default: str = "") -> str:
        value = self.params.get(name)
        return default if value is None else str(value)


@dataclass(frozen=True)
class NotificationKind:
    """One kind of notification. ``describe`` and ``link`` run in the language being rendered."""

    code: str
    label: str | Promise
    describe: Callable[[NotificationFacts], str]
    link: Callable[[NotificationFacts], str]
    description: str | Promise = ""
    default_site: bool = True
    default_email: EmailChannel = EmailChannel.OFF
    grouping: Grouping = Grouping.NONE
    # The app that registered it, for the admin's list.
    app: str = field(default="notification")


_lock = threading.Lock()
_REGISTRY: dict[str, NotificationKind] = {}


def register(kind: NotificationKind) -> NotificationKind:
    """Add a kind; registering the same code again replaces it only with an equal definition."""
    if len(kind.code) > CODE_MAX_LENGTH or not CODE_PATTERN.match(kind.code):
        raise ValueError(f"notification kind {kind.code!r} must look like '<app>.<what>' (a-z, 0-9, _)")
    with _lock:
        existing = _REGISTRY.get(kind.code)
        if existing is not None and existing != kind:
            raise ValueError(f"notification kind {kind.code!r} is registered already")
        _REGISTRY[kind.code] = kind
    return kind


def unregister(code: str) -> None:
    """Remove a kind (tests of apps that register their own)."""
    with _lock:
        _REGISTRY.pop(code, None)


def registered() -> list[NotificationKind]:
    """Every kind, this app's first, then in the order they were registered."""
    with _lock:
        return list(_REGISTRY.values())


def get(code: str) -> NotificationKind | None:
    return _REGISTRY.get(code)


# --- This app's own kinds ----------------------------------------------------------------------------


def _url(name: str, *args: Any) -> str:
    """A page of another app, by its URL name (never an import of that app); the home page when the
    name is gone, so that an old notification still leads somewhere."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return "/"


def _post_link(facts: NotificationFacts) -> str:
    if facts.post_id is not None:
        return _url("thread-post", facts.post_id)
    return _thread_link(facts)


def _thread_link(facts: NotificationFacts) -> str:
    return _url("thread-detail", facts.thread_id) if facts.thread_id is not None else "/"


def _reply(facts: NotificationFacts) -> str:
    return _("%(actor)s replied in “%(title)s”") % {"actor": facts.actor, "title": facts.param("title")}


def _mention(facts: NotificationFacts) -> str:
    return _("%(actor)s mentioned you in “%(title)s”") % {"actor": facts.actor, "title": facts.param("title")}


def _quote(facts: NotificationFacts) -> str:
    return _("%(actor)s quoted you in “%(title)s”") % {"actor": facts.actor, "title": facts.param("title")}


def _new_thread(facts: NotificationFacts) -> str:
    return _("%(actor)s started “%(title)s” in “%(forum)s”") % {
        "actor": facts.actor,
        "title": facts.param("title"),
        "forum": facts.param("forum"),
    }


def _reaction(facts: NotificationFacts) -> str:
    values = {"actor": facts.actor, "count": facts.others, "title": facts.param("title")}
    if not facts.others:
        return _("%(actor)s reacted to your post in “%(title)s”") % values
    return (
        ngettext(
            "%(actor)s and %(count)d other reacted to your post in “%(title)s”",
            "%(actor)s and %(count)d others reacted to your post in “%(title)s”",
            facts.others,
        )
        % values
    )


def _dialog_message(facts: NotificationFacts) -> str:
    values = {"actor": facts.actor, "count": facts.count, "excerpt": facts.param("excerpt")}
    if facts.count <= 1:
        return _("%(actor)s wrote to you: %(excerpt)s") % values
    return (
        ngettext(
            "%(count)d new message, the last from %(actor)s: %(excerpt)s",
            "%(count)d new messages, the last from %(actor)s: %(excerpt)s",
            facts.count,
        )
        % values
    )


def _dialog_link(facts: NotificationFacts) -> str:
    dialog_id = facts.params.get("dialog_id")
    return _url("dialog:detail", dialog_id) if isinstance(dialog_id, int) else "/"


def _approved(facts: NotificationFacts) -> str:
    return _("Your thread “%(title)s” was approved and is public now") % {"title": facts.param("title")}


def _rejected(facts: NotificationFacts) -> str:
    return _("Your thread “%(title)s” was rejected: %(reason)s") % {
        "title": facts.param("title"),
        "reason": facts.param("reason"),
    }


def _post_approved(facts: NotificationFacts) -> str:
    return _("Your reply in “%(title)s” was approved and is public now") % {"title": facts.param("title")}


def _post_rejected(facts: NotificationFacts) -> str:
    return _("Your reply in “%(title)s” was rejected: %(reason)s") % {
        "title": facts.param("title"),
        "reason": facts.param("reason"),
    }


def _status_name(facts: NotificationFacts) -> str:
    # Kept as the catalogue writes it (untranslated), and translated here, in the reader's language.
    name = facts.param("status_name") or facts.param("status_code")
    return _(name) if name else ""


def _granted(facts: NotificationFacts) -> str:
    if facts.param("starts_on"):
        return _("You have the status “%(status)s” from %(date)s") % {
            "status": _status_name(facts),
            "date": facts.param("starts_on"),
        }
    return _("You have the status “%(status)s” now") % {"status": _status_name(facts)}


def _expiring(facts: NotificationFacts) -> str:
    if _renew_url(facts):
        return _("Your status “%(status)s” ends soon, on %(date)s: renew it in one click") % {
            "status": _status_name(facts),
            "date": facts.param("ends_on"),
        }
    return _("Your status “%(status)s” ends soon, on %(date)s") % {
        "status": _status_name(facts),
        "date": facts.param("ends_on"),
    }


def _renew_url(facts: NotificationFacts) -> str:
    """The status app's renewal page of a bought grant (a path of this site), or empty."""
    url = facts.params.get("renew_url")
    return url if isinstance(url, str) and url.startswith("/") and not url.startswith("//") else ""


def _expiring_link(facts: NotificationFacts) -> str:
    return _renew_url(facts) or _profile_link(facts)


def _profile_link(facts: NotificationFacts) -> str:
    user_id = facts.params.get("user_id")
    return _url("user:profile", user_id) if isinstance(user_id, int) else "/"


REPLY = register(
    NotificationKind(
        code="thread.reply",
        label=gettext_lazy("Replies in threads you watch"),
        describe=_reply,
        link=_post_link,
        default_email=EmailChannel.DIGEST,
    )
)
MENTION = register(
    NotificationKind(
        code="thread.mention",
        label=gettext_lazy("Mentions of you"),
        describe=_mention,
        link=_post_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)
QUOTE = register(
    NotificationKind(
        code="thread.quote",
        label=gettext_lazy("Quotes of your posts"),
        describe=_quote,
        link=_post_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)
NEW_THREAD = register(
    NotificationKind(
        code="thread.new_thread",
        label=gettext_lazy("New threads in forums you watch"),
        describe=_new_thread,
        link=_thread_link,
        default_email=EmailChannel.DIGEST,
    )
)
REACTION = register(
    NotificationKind(
        code="thread.reaction",
        label=gettext_lazy("Reactions to your posts"),
        describe=_reaction,
        link=_post_link,
        grouping=Grouping.ACTORS,
    )
)
THREAD_APPROVED = register(
    NotificationKind(
        code="thread.approved",
        label=gettext_lazy("Your threads approved"),
        describe=_approved,
        link=_thread_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)
THREAD_REJECTED = register(
    NotificationKind(
        code="thread.rejected",
        label=gettext_lazy("Your threads rejected"),
        describe=_rejected,
        link=_thread_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)
# Replies held by premoderation (an escalation's sanction), approved or rejected by a moderator.
POST_APPROVED = register(
    NotificationKind(
        code="thread.post_approved",
        label=gettext_lazy("Your replies approved"),
        describe=_post_approved,
        link=_post_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)
POST_REJECTED = register(
    NotificationKind(
        code="thread.post_rejected",
        label=gettext_lazy("Your replies rejected"),
        describe=_post_rejected,
        link=_thread_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)
DIALOG_MESSAGE = register(
    NotificationKind(
        code="dialog.message",
        label=gettext_lazy("Private messages you have not seen"),
        describe=_dialog_message,
        link=_dialog_link,
        default_email=EmailChannel.IMMEDIATE,
        grouping=Grouping.EVENTS,
    )
)
STATUS_GRANTED = register(
    NotificationKind(
        code="status.granted",
        label=gettext_lazy("Statuses given to you"),
        describe=_granted,
        link=_profile_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)
STATUS_EXPIRING = register(
    NotificationKind(
        code="status.expiring",
        label=gettext_lazy("Your statuses about to end"),
        describe=_expiring,
        link=_expiring_link,
        default_email=EmailChannel.IMMEDIATE,
    )
)

# When one change concerns a member in several ways, the first of these that the member has not
# switched off decides the one notification they get (a quote that also mentions: a mention).
POST_PRIORITY = (MENTION.code, QUOTE.code, REPLY.code, NEW_THREAD.code)
