"""manage.py seed_moderation: a demo warning on top of ``seed_forum --demo`` and ``seed_support``.

A newcomer who runs ``make run`` finds a warned member (tom, who advertises his furniture, warned by
the support member mira) with its points on his warnings page, and the warning in the staff action
log; the three points premoderate his posts, so his next reply waits in the moderation queue.
Through the services, as staff would. Idempotent: when tom has a warning, it does nothing. The
launcher calls it after ``seed_support`` (the kernel names commands, it imports no app).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.admin.models import MemberWarning, WarningType
from apps.admin.services import members_of, warning_issue
from apps.thread.services import post_create, thread_titles_visible_to
from forum.errors import ApplicationError


class Command(BaseCommand):
    help = "Add a demo warning to the demo forum (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production", action="store_true", help="Seed even in the production profile."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data in the production profile (see --allow-production)."
            )
        people = members_of(["mira", "tom"])
        warning_type = WarningType.objects.filter(name="Spam or advertising", is_active=True).first()
        if len(people) < 2 or warning_type is None:
            self.stdout.write("seed_moderation: no demo members or warning types; nothing to do")
            return
        if MemberWarning.objects.filter(member_id=people["tom"]).exists():
            self.stdout.write("seed_moderation: the moderation demo is there")
            return
        warning_issue(
            actor_id=people["mira"],
            member_id=people["tom"],
            warning_type_id=warning_type.pk,
            reason="Advertises his furniture in every thread.",
        )
        self.stdout.write("seed_moderation: 1 warning created")
        # Three points: the seeded escalation premoderates tom's posts, so his next reply waits in the
        # moderation queue (the first demo thread he may read and reply in).
        readable = thread_titles_visible_to(user_id=people["tom"], thread_ids=range(1, 101))
        for thread_id in sorted(readable):
            try:
                post_create(
                    author_id=people["tom"],
                    thread_id=thread_id,
                    body="Solid oak chairs, half price, this week only! Write to me.",
                )
            except ApplicationError:
                continue
            self.stdout.write("seed_moderation: 1 reply held for premoderation")
            break
