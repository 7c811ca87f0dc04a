"""Emails of the notification app: one notification, or a member's daily digest.

Each has a text and an HTML part, rendered in the language active when it is built (the caller
activates the member's), and carries a signed one-click unsubscribe link in its body and in the
``List-Unsubscribe`` header, with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058):
a mail client unsubscribes with one POST to that address, no sign-in needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from forum.context_processors import forum_name

# Links in emails need an absolute address; FORUM_BASE_URL gives it (https in production).
FALLBACK_BASE_URL = "http://localhost:8000"


def absolute(path: str) -> str:
    base = str(settings.FORUM_BASE_URL or FALLBACK_BASE_URL).rstrip("/")
    return path if path.startswith(("http://", "https://")) else base + path


def unsubscribe_url(token: str) -> str:
    return absolute(reverse("notification:unsubscribe", args=[token]))


def _message(
    *, to: str, template: str, context: dict[str, Any], unsubscribe_token: str
) -> EmailMultiAlternatives:
    link = unsubscribe_url(unsubscribe_token)
    context = {
        "forum_name": forum_name(),
        "unsubscribe_url": link,
        "preferences_url": absolute(reverse("notification:preferences")),
        **context,
    }
    subject = render_to_string(f"notification/email/{template}_subject.txt", context)
    text = render_to_string(f"notification/email/{template}.txt", context)
    html = render_to_string(f"notification/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def notification_message(
    *, to: str, text: str, url: str, label: str, unsubscribe_token: str
) -> EmailMultiAlternatives:
    return _message(
        to=to,
        template="notification",
        context={"text": text, "url": absolute(url), "label": label},
        unsubscribe_token=unsubscribe_token,
    )


def digest_message(
    *, to: str, lines: Sequence[tuple[str, str]], unsubscribe_token: str
) -> EmailMultiAlternatives:
    items = [{"text": text, "url": absolute(url)} for text, url in lines]
    return _message(
        to=to,
        template="digest",
        context={"items": items, "count": len(items)},
        unsubscribe_token=unsubscribe_token,
    )
