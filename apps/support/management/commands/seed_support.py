"""manage.py seed_support: demo tickets, reports and canned replies on top of ``seed_forum --demo``.

A newcomer who runs ``make run`` finds the support side working: a few members' tickets in different
states, reports (two on one post, merged into one ticket; one of a member; one of a dialog message,
with its evidence), and canned replies. Everything goes through the services of the apps it touches,
as the members and staff would. Idempotent: when the canned replies are there, it does nothing. The
launcher calls it after ``seed_forum --demo`` (the kernel names commands, it imports no app).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.dialog.services import dialog_start, message_create
from apps.support.models import CannedReply
from apps.support.services import (
    report_file,
    ticket_open,
    ticket_reply,
    topic_by_code,
)
from apps.user.services import member_posts

CANNED = (
    (
        "Thanks for the report",
        "Thank you, {member}. We looked at what you reported ({ticket}) and acted on it.",
    ),
    (
        "Need more details",
        "Hi {member}, thanks for writing. To help with {ticket}, could you tell us which browser and "
        "device you use, and what you see on the screen?",
    ),
    (
        "Password reset",
        "Hi {member}, use **Forgot your password?** on the sign-in page; the link in the email works for "
        "an hour. Write here again if it does not arrive.",
    ),
)


class Command(BaseCommand):
    help = "Add demo tickets, reports and canned replies to the demo forum (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production", action="store_true", help="Seed even in the production profile."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data in the production profile (see --allow-production)."
            )
        if CannedReply.objects.filter(title=CANNED[0][0]).exists():
            self.stdout.write("seed_support: the support demo is there")
            return
        for position, (title, body) in enumerate(CANNED):
            CannedReply.objects.create(title=title, body=body, position=position)
        created = seed_demo_support()
        self.stdout.write(
            f"seed_support: {len(CANNED)} canned replies and {created} tickets and reports created"
        )


def _members(*names: str) -> dict[str, int]:
    rows = get_user_model().objects.filter(username__in=names).values_list("username", "pk")
    return {str(name): int(pk) for name, pk in rows}


def seed_demo_support() -> int:
    """Tickets and reports of the demo members (those that seed_forum made; missing ones are skipped)."""
    people = _members("mira", "lena", "tom", "noah", "sofia", "oskar", "yuki")
    created = 0
    account, forum_help = topic_by_code(code="account"), topic_by_code(code="forum-help")
    staff = people.get("mira")
    if account and forum_help and staff:
        if "lena" in people:
            avatar = ticket_open(
                member_id=people["lena"],
                topic_id=account.id,
                subject="I cannot change my avatar",
                body="Every picture I upload is refused with *the file is not an image*. It is a PNG.",
            )
            ticket_reply(
                author_id=staff,
                ticket_id=avatar.id,
                body="Hi Lena, could you attach the picture here? We will look at what the server sees.",
            )
            created += 1
        if "noah" in people:
            ticket_open(
                member_id=people["noah"],
                topic_id=forum_help.id,
                subject="How do statuses work?",
                body="I see *Reader* next to some names. What does it give, and how do I get it?",
            )
            created += 1
        if "sofia" in people:
            preview = ticket_open(
                member_id=people["sofia"],
                topic_id=forum_help.id,
                subject="Preview stays empty on my phone",
                body="Firefox on Android: the preview tab shows nothing.",
            )
            ticket_reply(
                author_id=staff,
                ticket_id=preview.id,
                body="Fixed in today's release. Thanks!",
                state="resolved",
            )
            created += 1
    if {"tom", "noah", "sofia"} <= set(people):
        found = member_posts(viewer_id=people["noah"], author_id=people["tom"], per_page=50)
        desk = next(
            (item for item in (found.items if found else ()) if item.excerpt.startswith("A desk")), None
        )
        if desk is not None:
            report_file(
                reporter_id=people["noah"],
                target_kind="post",
                target_id=desk.id,
                reason="spam",
                comment="Advertises his furniture in every thread.",
            )
            report_file(
                reporter_id=people["sofia"], target_kind="post", target_id=desk.id, reason="off_topic"
            )
            created += 2
    if {"lena", "oskar"} <= set(people):
        report_file(
            reporter_id=people["lena"],
            target_kind="member",
            target_id=people["oskar"],
            reason="spam",
            comment="Tries to sell his keyboard to everyone, in threads and in private.",
        )
        created += 1
    if {"oskar", "yuki"} <= set(people):
        dialog = dialog_start(starter_id=people["oskar"], recipient_id=people["yuki"])
        lines = (
            ("oskar", "Hi! Interested in my old keyboard?"),
            ("yuki", "No thanks."),
            ("oskar", "Last chance. You'd be an idiot to miss it."),
            ("yuki", "Please stop writing to me."),
        )
        ids = [
            message_create(author_id=people[who], dialog_id=dialog.id, body=body).id for who, body in lines
        ]
        report_file(reporter_id=people["yuki"], target_kind="message", target_id=ids[2], reason="abuse")
        created += 1
    return created
